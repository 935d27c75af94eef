package config

// localParams are the local(8) delivery agent's parameters that are not
// shared with other components (internal/deliver/local).
var localParams = []Param{
	{Name: "luser_relay", Default: "", Type: String, Raw: true, Doc: "Where mail for unknown local users goes ($user, $extension, ... are expanded at delivery); empty: it bounces."},
	{Name: "strict_mailbox_ownership", Default: "yes", Type: Bool, Doc: "Defer delivery to a mailbox file that is not owned by its recipient."},
	{Name: "mailbox_delivery_lock", Default: "fcntl, dotlock", Type: List, Doc: "How mbox files are locked during delivery: fcntl, flock and/or dotlock."},
	{Name: "deliver_lock_attempts", Default: "20", Type: Int, Doc: "How often to try to lock a mailbox before deferring."},
	{Name: "deliver_lock_delay", Default: "1s", Type: Duration, Unit: 's', Doc: "Time between mailbox lock attempts."},
	{Name: "stale_lock_time", Default: "500s", Type: Duration, Unit: 's', Doc: "Age after which a mailbox dotlock file is removed as stale."},
}
