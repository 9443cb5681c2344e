//go:build tools

// Package tools pins the Gitea server that the pull-request tests run against. It lives in a
// module of its own because Gitea's replace lines would fight the Kubernetes ones of test/tools.
package tools

import (
	_ "code.gitea.io/gitea"
)
