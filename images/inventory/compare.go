package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Changes is what differs between two inventories of one tag.
type Changes struct {
	Added   []Package
	Removed []Package
	Changed []PackageChange
	Config  []ConfigChange
}

// PackageChange is one package whose version changed.
type PackageChange struct {
	Name, Ecosystem, Location string
	From, To                  string
}

// ConfigChange is one configuration field that changed. Env changes name the
// variables only.
type ConfigChange struct {
	Field, From, To string
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Changed)+len(c.Config) == 0
}

type pkgKey struct{ eco, name, loc string }

// Compare lists what changed from approved to served: packages (keyed by
// ecosystem, name and the file they were found in) and configuration fields.
func Compare(approved, served *Inventory) Changes {
	var c Changes
	index := func(inv *Inventory) map[pkgKey][]Package {
		m := map[pkgKey][]Package{}
		for _, p := range inv.Packages {
			k := pkgKey{p.Ecosystem, p.Name, p.Location}
			m[k] = append(m[k], p)
		}
		return m
	}
	a, s := index(approved), index(served)
	for k, ap := range a {
		sp, ok := s[k]
		if !ok {
			c.Removed = append(c.Removed, ap...)
			continue
		}
		if av, sv := versions(ap), versions(sp); av != sv {
			c.Changed = append(c.Changed, PackageChange{Name: k.name, Ecosystem: k.eco, Location: k.loc, From: av, To: sv})
		}
	}
	for k, sp := range s {
		if _, ok := a[k]; !ok {
			c.Added = append(c.Added, sp...)
		}
	}
	sortPackages(c.Added)
	sortPackages(c.Removed)
	sort.Slice(c.Changed, func(i, j int) bool {
		x, y := c.Changed[i], c.Changed[j]
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		return x.Location < y.Location
	})
	c.Config = compareConfig(approved.Config, served.Config)
	return c
}

func versions(ps []Package) string {
	vs := make([]string, len(ps))
	for i, p := range ps {
		vs[i] = p.Version
	}
	sort.Strings(vs)
	return strings.Join(vs, ", ")
}

func compareConfig(a, s Config) []ConfigChange {
	var out []ConfigChange
	add := func(field, from, to string) {
		if from != to {
			out = append(out, ConfigChange{Field: field, From: from, To: to})
		}
	}
	add("User", a.User, s.User)
	add("Entrypoint", quoteList(a.Entrypoint), quoteList(s.Entrypoint))
	add("Cmd", quoteList(a.Cmd), quoteList(s.Cmd))
	add("ExposedPorts", strings.Join(a.ExposedPorts, ", "), strings.Join(s.ExposedPorts, ", "))
	add("Env", strings.Join(a.EnvNames, ", "), strings.Join(s.EnvNames, ", "))
	keys := map[string]bool{}
	for k := range a.Labels {
		keys[k] = true
	}
	for k := range s.Labels {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		add("Label "+k, a.Labels[k], s.Labels[k])
	}
	return out
}

func quoteList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}
