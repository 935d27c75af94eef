package config

import (
	"testing"
)

func FuzzMainCF(f *testing.F) {
	for _, s := range []string{
		"", "myorigin = a\n", "a = $b\nb = $a\n", "x = ${y?{a}:{b}}\n  cont\n# c\n",
		"smtputf8_enable = ${{$compatibility_level} <level {1} ? {no} : {yes}}\n",
		"message_size_limit = ten\n", " lead = x\n=x\n", "a = ${{1} == {1} ? {$b} : {c}}\nb = $(a)\n",
	} {
		f.Add(s)
	}
	h := fakeHost("fuzz")
	f.Fuzz(func(t *testing.T, data string) {
		entries, err := parseMain("main.cf", data, func(string) {})
		if err != nil {
			return
		}
		set := map[string]setting{}
		for _, e := range entries {
			set[e.name] = setting{value: e.value, file: "main.cf", line: e.line}
		}
		c, err := build("", h, set, nil, nil, func(string) {})
		if err != nil {
			return
		}
		for _, n := range c.Names() {
			c.List(n)
		}
		out, _, err := editMain("main.cf", data, Edit{Set: [][2]string{{"myorigin", "x"}}, Comment: []string{"relayhost"}})
		if err != nil {
			t.Fatalf("edit of parseable main.cf failed: %v", err)
		}
		if _, err := parseMain("main.cf", out, nil); err != nil {
			t.Fatalf("edited main.cf does not parse: %v\n%s", err, out)
		}
	})
}

func FuzzMasterCF(f *testing.F) {
	f.Add(DefaultMasterCF)
	f.Add(submissionCF)
	f.Add("a inet n - n - - smtpd -o{ x = y } {b c}\n")
	f.Fuzz(func(t *testing.T, data string) {
		services, err := ParseMaster("master.cf", data)
		if err != nil {
			return
		}
		for _, s := range services {
			s.Format(true, nil)
			s.Format(false, func(v string) string { return v })
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$a", "${a?{b}:{c}}", "${{$a} <level {2} ? {x} : {y}}", "$(a", "$$", "${{1}=={1}?x:y}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x := newExpander(func(n string) (string, bool) {
			switch n {
			case "a":
				return "3.6", true
			case "b":
				return s, true // may loop back into itself
			}
			return "", false
		}, nil)
		x.text(s, 0)
		references(s)
	})
}
