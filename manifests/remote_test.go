//go:build unix

package manifests

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// countingServer serves configMap and counts every connection and request it sees.
type countingServer struct {
	*httptest.Server
	conns, requests atomic.Int64
}

func newCountingServer(t *testing.T, useTLS bool) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		_, _ = w.Write([]byte(configMap))
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// fakeGit puts a git on PATH that records each call in the returned file and fails, so a
// test sees whether anything tried to clone.
func fakeGit(t *testing.T) string {
	bin := t.TempDir()
	marker := filepath.Join(bin, "git-was-called")
	script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return marker
}

// TestMeasuresSeeFetches shows that the measures of the next test work: kustomize on its own,
// with its default options, connects to the server and runs git for these entries.
func TestMeasuresSeeFetches(t *testing.T) {
	srv := newCountingServer(t, false)
	marker := fakeGit(t)
	for _, entry := range []string{srv.URL + "/x.yaml", "git@github.com:org/repo.git"} {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"kustomization.yaml": "resources:\n- " + entry + "\n"})
		_, _ = krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), root)
	}
	if srv.requests.Load() == 0 {
		t.Error("kustomize alone made no request to the server: the measure is blind")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("kustomize alone did not run git: the measure is blind (%v)", err)
	}
}

func TestRenderRejectsRemoteReferencesWithoutFetching(t *testing.T) {
	plain := newCountingServer(t, false)
	tlsSrv := newCountingServer(t, true)
	marker := fakeGit(t)
	httpURL, httpsURL := plain.URL+"/x.yaml", tlsSrv.URL+"/x.yaml"

	tests := []struct {
		name          string
		kustomization string
		extra         map[string]string
		wantFile      string // default app/kustomization.yaml
		wantEntry     string
		secret        string // must not appear in the error
	}{
		{name: "https resource", kustomization: "resources:\n- " + httpsURL + "\n", wantEntry: httpsURL},
		{name: "http resource", kustomization: "resources:\n- " + httpURL + "\n", wantEntry: httpURL},
		{
			name:          "url with a token",
			kustomization: "resources:\n- https://x-access-token:s3cr3t-t0ken@" + strings.TrimPrefix(httpsURL, "https://") + "\n",
			wantEntry:     "https://REDACTED@" + strings.TrimPrefix(httpsURL, "https://"),
			secret:        "s3cr3t-t0ken",
		},
		{name: "field name in capitals, which kustomize accepts", kustomization: "RESOURCES:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "http base", kustomization: "bases:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "github ref", kustomization: "resources:\n- github.com/org/repo//path?ref=v1\n", wantEntry: "github.com/org/repo//path?ref=v1"},
		{name: "scp-style git url", kustomization: "resources:\n- git@github.com:org/repo.git\n", wantEntry: "git@github.com:org/repo.git"},
		{name: "ssh url", kustomization: "resources:\n- ssh://git@example.com/org/repo.git\n", wantEntry: "ssh://git@example.com/org/repo.git"},
		{name: "go-getter git prefix", kustomization: "resources:\n- git::https://example.com/org/repo\n", wantEntry: "git::https://example.com/org/repo"},
		{name: "component", kustomization: "components:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "patch path", kustomization: "resources: [cm.yaml]\npatches:\n- path: " + httpURL + "\n", wantEntry: httpURL},
		{name: "strategic merge patch", kustomization: "resources: [cm.yaml]\npatchesStrategicMerge:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "json6902 patch", kustomization: "resources: [cm.yaml]\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: app}\n  path: " + httpURL + "\n", wantEntry: httpURL},
		{name: "configMapGenerator file", kustomization: "configMapGenerator:\n- name: c\n  files:\n  - " + httpsURL + "\n", wantEntry: httpsURL},
		{name: "configMapGenerator keyed file", kustomization: "configMapGenerator:\n- name: c\n  files:\n  - key=" + httpURL + "\n", wantEntry: "key=" + httpURL},
		{name: "secretGenerator env file", kustomization: "secretGenerator:\n- name: s\n  envs:\n  - " + httpURL + "\n", wantEntry: httpURL},
		{name: "crds", kustomization: "crds:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "configurations", kustomization: "configurations:\n- " + httpURL + "\n", wantEntry: httpURL},
		{name: "replacements", kustomization: "resources: [cm.yaml]\nreplacements:\n- path: " + httpURL + "\n", wantEntry: httpURL},
		{name: "openapi schema", kustomization: "resources: [cm.yaml]\nopenapi:\n  path: " + httpURL + "\n", wantEntry: httpURL},
		{name: "generator entry", kustomization: "generators:\n- " + httpURL + "\n", wantEntry: httpURL},
		{
			name:          "transformer config file naming a url",
			kustomization: "resources: [cm.yaml]\ntransformers:\n- transformer.yaml\n",
			extra: map[string]string{"app/transformer.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " +
				httpURL + "\ntarget:\n  kind: ConfigMap\n"},
			wantFile:  "app/transformer.yaml:5:",
			wantEntry: httpURL,
		},
		{
			name: "inline generator config naming a url",
			kustomization: "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: c\n  files:\n  - " +
				httpURL + "\n",
			wantEntry: httpURL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{"app/kustomization.yaml": tt.kustomization, "app/cm.yaml": configMap}
			for k, v := range tt.extra {
				files[k] = v
			}
			writeTree(t, root, files)
			_, err := Render(context.Background(), root, "app", DefaultOptions())
			wantFile := tt.wantFile
			if wantFile == "" {
				wantFile = "app/kustomization.yaml:"
			}
			wantError(t, err, ErrRemoteReference, wantFile, `"`+tt.wantEntry+`"`, "remote references are not allowed")
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the secret %q", err, tt.secret)
			}
		})
	}
	for name, s := range map[string]*countingServer{"http": plain, "https": tlsSrv} {
		if c, r := s.conns.Load(), s.requests.Load(); c != 0 || r != 0 {
			t.Errorf("%s server saw %d connections and %d requests; want none", name, c, r)
		}
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("git was run: %s", b)
	}
}
