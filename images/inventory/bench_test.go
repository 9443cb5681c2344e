package inventory

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	benchMB     = flag.Int("inventory.mb", 500, "BenchmarkInventory: compressed image size in MiB")
	benchLayers = flag.Int("inventory.layers", 20, "BenchmarkInventory: number of layers")
)

// streamLayer is a gzip'd tar layer generated on the fly: files of incompressible bytes
// (a third of them executable, so that the Go binary extractor asks for them), never held
// in memory whole.
func streamLayer(seed uint64, bytesTotal int64, extra []entry) v1.Layer {
	const fileSize = 1 << 20
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			zw, _ := gzip.NewWriterLevel(pw, gzip.NoCompression)
			tw := tar.NewWriter(zw)
			rng := rand.New(rand.NewPCG(seed, seed))
			buf := make([]byte, fileSize)
			var err error
			for i := int64(0); i*fileSize < bytesTotal && err == nil; i++ {
				mode := int64(0o644)
				if i%3 == 0 {
					mode = 0o755
				}
				for j := range buf {
					buf[j] = byte(rng.Uint32())
				}
				if err = tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/app%d/file%d", seed, i), Mode: mode, Size: fileSize, Typeflag: tar.TypeReg}); err == nil {
					_, err = tw.Write(buf)
				}
			}
			for _, e := range extra {
				if err == nil {
					if err = tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err == nil {
						_, err = tw.Write(e.body)
					}
				}
			}
			if err == nil {
				err = tw.Close()
			}
			if err == nil {
				err = zw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(opener)
	if err != nil {
		panic(err)
	}
	return l
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes; resetPeak clears it.
func peakRSS(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func resetPeak(b *testing.B) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS: %v", err)
	}
}

// BenchmarkInventory scans a many-layer image of -inventory.mb MiB served by
// go-containerregistry's registry (blobs on disk) and reports the wall time and the peak RSS.
//
//	go test -run x -bench BenchmarkInventory -benchtime 1x ./images/inventory/
func BenchmarkInventory(b *testing.B) {
	h := registry.New(registry.Logger(nullLogger()), registry.WithBlobHandler(registry.NewDiskBlobHandler(b.TempDir())))
	srv := httptest.NewServer(h)
	defer srv.Close()
	per := int64(*benchMB) << 20 / int64(*benchLayers)
	var layers []v1.Layer
	status := readTestdata(b, "debian12/status")
	for i := range *benchLayers {
		var extra []entry
		if i == 0 {
			extra = []entry{file("etc/os-release", readTestdata(b, "debian12/os-release")), file("var/lib/dpkg/status", status)}
		}
		layers = append(layers, streamLayer(uint64(i+1), per, extra))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		b.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/bench/big:1", name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		s, err := NewScanner(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		served, err := remote.Image(ref)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("peak RSS before the scan (push included): %.1f MiB", float64(peakRSS(b))/(1<<20))
		resetPeak(b)
		b.Logf("peak RSS after the reset: %.1f MiB", float64(peakRSS(b))/(1<<20))
		b.StartTimer()
		start := time.Now()
		inv, err := s.Scan(context.Background(), "bench/big:1", served)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/scan")
		b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
		if len(inv.Packages) != 5 {
			b.Fatalf("packages %d, want 5", len(inv.Packages))
		}
	}
}
