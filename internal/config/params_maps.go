package config

// mapsParams are the parameters of this area; see Param.
var mapsParams = []Param{
	{Name: "default_database_type", Default: "hash", Type: String,
		Doc: "The table type used by mailhorn map and mailhorn alias when a file name is given without type: (hash, btree and cdb all build a CDB file)."},
}
