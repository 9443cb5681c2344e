// Package gitea starts a real, headless Gitea server for tests and the demo: a temporary work
// folder with sqlite, an admin user and an API token, listening on 127.0.0.1. The binary is the
// one `make control-plane` builds into test/bin (hack/build-gitea.sh), at the version pinned in
// test/tools/gitea/go.mod. It reaches no room of the product.
package gitea

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sdk "code.gitea.io/sdk/gitea"
)

// Admin user of every server Start starts.
const (
	AdminUser     = "plumbline-admin"
	AdminPassword = "plumbline-admin-password"
	AdminEmail    = "admin@plumbline.test"
)

// Server is one running Gitea.
type Server struct {
	// URL is the server's root, e.g. http://127.0.0.1:43121 (no trailing slash).
	URL string
	// Token is an API token of AdminUser with every scope.
	Token string
	// Dir is the server's work folder.
	Dir string

	bin     string
	cmd     *exec.Cmd
	done    chan error
	ownsDir bool
	log     *bytes.Buffer
}

// Binary returns the path of the gitea binary: $PLUMBLINE_GITEA when set, else test/bin/gitea
// of the repository that contains the working directory. It fails, saying how to build it, when
// there is none.
func Binary() (string, error) {
	if p := os.Getenv("PLUMBLINE_GITEA"); p != "" {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "test", "tools", "gitea", "go.mod")); err == nil {
			bin := filepath.Join(dir, "test", "bin", "gitea")
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("gitea: %s is not built: run `make control-plane`", bin)
			}
			return bin, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("gitea: no PLUMBLINE_GITEA and no repository above %s", wd)
		}
	}
}

// Start starts a Gitea in a new temporary folder (removed by Stop), creates the admin user
// and its token, and returns once the API answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plumbline-gitea-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, ownsDir: true, log: &bytes.Buffer{}}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	assets := filepath.Join(filepath.Dir(s.bin), "gitea-assets")
	if _, err := os.Stat(filepath.Join(assets, "options")); err != nil {
		return fmt.Errorf("gitea: %s: its templates and translations are missing: run `make control-plane`", assets)
	}
	for _, sub := range []string{"options", "templates", "public"} {
		if err := os.Symlink(filepath.Join(assets, sub), filepath.Join(s.Dir, sub)); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	runUser := "root"
	if u, err := user.Current(); err == nil {
		runUser = u.Username
	}
	ini := fmt.Sprintf(appINI, runUser, s.Dir, port, s.URL, randomHex(32), randomHex(32))
	conf := filepath.Join(s.Dir, "app.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		return err
	}
	if err := s.run(ctx, "migrate"); err != nil {
		return err
	}
	if err := s.run(ctx, "admin", "user", "create", "--admin", "--username", AdminUser, "--password", AdminPassword,
		"--email", AdminEmail, "--must-change-password=false"); err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "web", "--config", conf, "--work-path", s.Dir)
	s.cmd.Dir, s.cmd.Env = s.Dir, s.env()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("gitea web: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	c, err := sdk.NewClient(s.URL, sdk.SetBasicAuth(AdminUser, AdminPassword), sdk.SetContext(ctx))
	if err != nil {
		return fmt.Errorf("gitea: client: %w", err)
	}
	tok, _, err := c.CreateAccessToken(sdk.CreateAccessTokenOption{Name: "plumbline-test", Scopes: []sdk.AccessTokenScope{sdk.AccessTokenScopeAll}})
	if err != nil {
		return fmt.Errorf("gitea: create token: %w", err)
	}
	s.Token = tok.Token
	return nil
}

func (s *Server) env() []string {
	return append(os.Environ(), "GITEA_WORK_DIR="+s.Dir, "HOME="+s.Dir, "USER=root")
}

func (s *Server) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, s.bin, append(args, "--config", filepath.Join(s.Dir, "app.ini"), "--work-path", s.Dir)...)
	cmd.Dir, cmd.Env = s.Dir, s.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gitea %s: %w: %s", args[0], err, tail(out))
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("gitea web exited: %v: %s", err, tail(s.log.Bytes()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.URL + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("gitea web: no answer at %s within 60s: %s", s.URL, tail(s.log.Bytes()))
}

// Client returns an SDK client of the admin user.
func (s *Server) Client(ctx context.Context) (*sdk.Client, error) {
	return sdk.NewClient(s.URL, sdk.SetToken(s.Token), sdk.SetContext(ctx))
}

// CreateRepo creates an empty repository of the admin user with default branch main, and
// returns its clone URL (http://127.0.0.1:port/plumbline-admin/name.git).
func (s *Server) CreateRepo(ctx context.Context, name string) (string, error) {
	c, err := s.Client(ctx)
	if err != nil {
		return "", err
	}
	r, _, err := c.CreateRepo(sdk.CreateRepoOption{Name: name, DefaultBranch: "main"})
	if err != nil {
		return "", fmt.Errorf("gitea: create repository %s: %w", name, err)
	}
	return r.CloneURL, nil
}

// Stop ends the server and removes its folder. It is safe on a nil or stopped Server.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.cmd = nil
	}
	if s.ownsDir {
		errs = append(errs, os.RemoveAll(s.Dir))
		s.ownsDir = false
	}
	return errors.Join(errs...)
}

// Log returns what gitea web wrote so far, for a failing test to show.
func (s *Server) Log() string { return s.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// appINI is a headless Gitea for the API: sqlite, no SSH, no mail, no registration, offline.
// Arguments: run user, work folder, port, root URL, secret key, internal token.
const appINI = `APP_NAME = plumbline-test
RUN_MODE = prod
RUN_USER = %[1]s
WORK_PATH = %[2]s
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
ROOT_URL = %[4]s/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = %[2]s/data

[database]
DB_TYPE = sqlite3
PATH = %[2]s/data/gitea.db

[repository]
ROOT = %[2]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s
INTERNAL_TOKEN = %[6]s
PASSWORD_HASH_ALGO = pbkdf2_hi

[service]
DISABLE_REGISTRATION = true
REQUIRE_SIGNIN_VIEW = false

[mailer]
ENABLED = false

[webhook]
; the tests' webhook receivers listen on 127.0.0.1
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 5

[oauth2]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[actions]
ENABLED = false

[cron]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
ROOT_PATH = %[2]s/log
`
