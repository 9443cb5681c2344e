// Package admission tests the ValidatingAdmissionPolicies Plumbline renders on a real API
// server of their own: policies are cluster-scoped and apply to everything, so they do not
// share a server with other packages' tests. Each test binds to its own namespace and removes
// its policies when it ends.
package admission

import (
	"os"
	"testing"

	"github.com/plumbline/plumbline/test/cluster"
)

var env *cluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(cluster.RunTests(m, &env))
}
