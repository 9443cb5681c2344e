package vulns

import (
	"archive/zip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/plumbline/plumbline/images/inventory"
)

var (
	benchRecords  = flag.Int("vulns.records", 200000, "BenchmarkMatch: OSV records in the database")
	benchPackages = flag.Int("vulns.packages", 2000, "BenchmarkMatch: installed packages to match")
)

// writeBenchDB writes n Debian:12 records, ten per source package name, as Debian/all.zip.
func writeBenchDB(b *testing.B, n int) string {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Debian"), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "Debian", "all.zip"))
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := range n {
		w, err := zw.Create(fmt.Sprintf("DEBIAN-CVE-2026-%06d.json", i))
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(w, `{"schema_version":"1.6.0","id":"DEBIAN-CVE-2026-%06d","modified":"2026-11-01T00:00:00Z","upstream":["CVE-2026-%06d"],`+
			`"details":"synthetic record %d","affected":[{"package":{"ecosystem":"Debian:12","name":"pkg%d"},`+
			`"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.%d-1~deb12u1"}]}],"ecosystem_specific":{"urgency":"medium"}}]}`,
			i, i, i, i/10, i%10)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkMatch loads a database of -vulns.records records and matches -vulns.packages
// installed Debian packages against it; it reports the load time, the heap the loaded
// database holds, and the matching time (ns/op).
//
//	go test -run x -bench BenchmarkMatch -benchtime 1x ./images/vulns/
func BenchmarkMatch(b *testing.B) {
	dir := writeBenchDB(b, *benchRecords)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	db, err := Load(dir, Options{MaxAge: -1})
	if err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	pkgs := make([]inventory.Package, *benchPackages)
	for i := range pkgs {
		pkgs[i] = inventory.Package{Name: fmt.Sprintf("lib%d", i), Version: "1.4-1", Ecosystem: "Debian:12", PURLType: "deb",
			OS: &inventory.OSPackage{Kind: "dpkg", SourceName: fmt.Sprintf("pkg%d", i*(*benchRecords/10) / *benchPackages), OSID: "debian", OSVersionID: "12"}}
	}
	var found int
	b.ResetTimer()
	for b.Loop() {
		found = len(db.Match(pkgs))
	}
	b.StopTimer()
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "db-heap-MiB")
	b.ReportMetric(float64(found), "findings")
	if found == 0 {
		b.Fatal("no findings")
	}
	runtime.KeepAlive(db)
}

// BenchmarkLoadFiltered loads the same database keeping only the records of the
// -vulns.packages source names a scan asks for (Options.Names), and reports time and heap.
func BenchmarkLoadFiltered(b *testing.B) {
	dir := writeBenchDB(b, *benchRecords)
	var names []string
	for i := range *benchPackages {
		names = append(names, fmt.Sprintf("pkg%d", i*(*benchRecords/10) / *benchPackages))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var db *DB
	for b.Loop() {
		var err error
		if db, err = Load(dir, Options{MaxAge: -1, Names: names}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "db-heap-MiB")
	b.ReportMetric(float64(db.Records), "records")
	runtime.KeepAlive(db)
}
