package e6coord_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// module is the module path; the rules below name packages relative to it.
const module = "github.com/e6coord/e6coord"

// The layers, from the bottom; a package imports only from its own layer
// and those below it:
//
//	0 cache                       the vocabulary; the standard library only
//	1 cache/...                   the stores and their conformance suite
//	2 coordinator/...             the state machine over a cache.Store
//	3 client/..., metrics         the engine's protocol, the driver, the
//	                              metrics of a coordinator (helpers live
//	                              under their owner: client/internal/...,
//	                              coordinator/internal/...)
//	4 internal/...                the application tier of cmd/e6coord and
//	                              integration, and test support
//	5 cmd/e6coord/...             the binary and the code only it uses
//
// client/enginetest, the fake engine, imports of the module only the
// generated protocol and the encoder, not the client it fakes nor cache;
// internal/view and cmd/e6coord/internal/inspect, which show the state
// without running a coordinator, do not import coordinator.

// testSupport are the root internal packages that only tests import.
var testSupport = []string{"internal/redistest", "internal/secrettest", "internal/outputtest"}

// knownArrows are arrows back up that other work removes: each must still
// be there (so that this list shrinks when it goes), and is not reported.
var knownArrows = []string{}

// pkg is what go list says of a package of the module.
type pkg struct {
	ImportPath   string
	Standard     bool
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// TestLayers walks the import graph of the module (go list -deps) and
// fails on every arrow that runs back up the layers.
func TestLayers(t *testing.T) {
	pkgs := goList(t, "-deps", "./...")
	var arrows []string
	for _, p := range pkgs {
		if !inModule(p.ImportPath) {
			continue
		}
		arrows = append(arrows, arrowsUp(p, pkgs)...)
	}
	seen := make(map[string]bool)
	for _, a := range arrows {
		seen[a] = true
		if !slices.Contains(knownArrows, a) {
			t.Errorf("arrow back up: %s", a)
		}
	}
	for _, a := range knownArrows {
		if !seen[a] {
			t.Errorf("known arrow %s is gone: remove it from knownArrows", a)
		}
	}

	// A root internal package that only the binary uses belongs under
	// cmd/e6coord/internal: each is used by integration's tests too.
	integration := make(map[string]bool)
	for _, p := range goList(t, "-deps", "-test", "./integration") {
		integration[rel(p.ImportPath)] = true
	}
	for _, p := range pkgs {
		r := rel(p.ImportPath)
		if inModule(p.ImportPath) && under(r, "internal") && !slices.Contains(testSupport, r) && !integration[r] {
			t.Errorf("%s is used by cmd/e6coord alone: move it under cmd/e6coord/internal", r)
		}
	}
}

// arrowsUp returns the arrows back up that start at p, as "from -> to"
// with paths relative to the module, by the rules of the layers.
func arrowsUp(p pkg, pkgs map[string]pkg) []string {
	from := rel(p.ImportPath)
	var out []string
	add := func(to string) { out = append(out, from+" -> "+to) }
	library := layer(from) <= layer("metrics")
	for _, imp := range p.Imports {
		to := rel(imp)
		switch {
		case from == "cache" && !pkgs[imp].Standard:
			add(to) // cache imports the standard library only
		case inModule(imp) && layer(to) > layer(from):
			add(to)
		case from == "client/enginetest" && inModule(imp) && to != "client/e6xpb" && to != "client/internal/resultenc":
			add(to)
		case (from == "internal/view" || from == "cmd/e6coord/internal/inspect") && under(to, "coordinator"):
			add(to)
		}
	}
	// A library's tests may use the root internal test support, and
	// nothing else of the root internal/ or of cmd/.
	if library {
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			to := rel(imp)
			if (under(to, "internal") && !slices.Contains(testSupport, to)) || under(to, "cmd") {
				add(to + " (test)")
			}
		}
	}
	return out
}

// layer returns the layer of package p (relative to the module), from 0
// for cache; the packages of tests alone (the root, integration) come
// last.
func layer(p string) int {
	switch {
	case p == "cache":
		return 0
	case under(p, "cache"):
		return 1
	case under(p, "coordinator"):
		return 2
	case under(p, "client"), under(p, "metrics"):
		return 3
	case under(p, "internal"):
		return 4
	case under(p, "cmd"):
		return 5
	}
	return 6
}

// goList runs go list -e -json with args in the module's root and returns
// the packages it lists, by import path. It fails t on any package error.
func goList(t *testing.T, args ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list", "-e", "-json=ImportPath,Standard,Imports,Deps,TestImports,XTestImports,Error,DepsErrors"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	pkgs := make(map[string]pkg)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			pkg
			Error      *struct{ Err string }
			DepsErrors []struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			t.Errorf("go list: %s: %s", p.ImportPath, e.Err)
		}
		pkgs[p.ImportPath] = p.pkg
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %s listed nothing", strings.Join(args, " "))
	}
	return pkgs
}

// goTool returns the go command of the toolchain running the test.
func goTool(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// rel returns path relative to the module, or path itself outside it. A
// test variant ("p [p.test]") or test main ("p.test") is named by p.
func rel(path string) string {
	path, _, _ = strings.Cut(path, " ")
	path = strings.TrimSuffix(path, ".test")
	if !inModule(path) {
		return path
	}
	return strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
}

// under reports whether path, relative to the module, is dir or below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }
