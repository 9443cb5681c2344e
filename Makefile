# Plumbline. `make demo` and `make test` are all a fresh machine needs: they build the local
# control plane (kube-apiserver and etcd from the Go module proxy) the first time, and reuse it.

GO       ?= go
BIN      := $(CURDIR)/bin
TESTBIN  := $(CURDIR)/test/bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

export KUBEBUILDER_ASSETS := $(TESTBIN)
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 90s

.PHONY: all build test demo bench fuzz control-plane generate verify-generated vet fmt clean

CONTROLLER_GEN := $(BIN)/controller-gen

all: build

## build: the plumbline binary in bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/plumbline ./cmd/plumbline

## control-plane: kube-apiserver and etcd at the versions pinned in test/tools/go.mod, and
## Gitea at the version pinned in test/tools/gitea/go.mod, into test/bin; each skipped when it
## is there at its version
control-plane:
	@./hack/build-control-plane.sh $(TESTBIN)
	@./hack/build-gitea.sh $(TESTBIN)

## generate: the Source CRD (deploy/crd) and deepcopy functions from the Go types in api/, with
## controller-gen at the version pinned in hack/tools/go.mod
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:maxDescLen=400 paths=./api/... output:crd:dir=deploy/crd

$(CONTROLLER_GEN): hack/tools/go.mod hack/tools/go.sum
	cd hack/tools && $(GO) build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

## verify-generated: fails when the committed CRD or deepcopy code is not what generate writes
verify-generated: generate
	@git diff --exit-code -- api deploy/crd || { echo "run 'make generate' and commit the result"; exit 1; }

## test: every test, against the real control plane
test: control-plane verify-generated
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

## demo: the stories end to end on a local control plane, Git repository, registry and Slack
demo: control-plane build
	$(GO) run ./test/controlplane -- $(BIN)/plumbline demo

## bench: plumbline diff against kubectl diff -k, and the package benchmarks
bench: control-plane build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/
	$(GO) test -run '^$$' -bench . ./manifests/ ./images/ ./policy/ ./gitsource/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./images/inventory/ ./images/vulns/ ./notify/
	$(GO) test -run '^$$' -bench . -benchtime 10x ./test/activity/
	$(GO) test -run '^$$' -bench . -benchtime 1000x ./test/admission/
	$(GO) test -run '^$$' -bench . -benchtime 200x -benchmem ./test/propose/

## fuzz: a short run of every fuzz target
fuzz:
	@for target in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$target\(" --include='*_test.go' . | head -1 | xargs dirname); \
		echo "fuzz $$pkg $$target"; \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime 30s $$pkg || exit 1; \
	done

clean:
	rm -rf $(BIN)
