package scanner_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/peelscan/peel/scanner"
)

// catalogServer serves /v2/_catalog page by page (n and last, as the
// distribution registry does) and each repository's tags; with stuck, it
// answers the first page whatever last says.
func catalogServer(t *testing.T, repos map[string][]string, stuck bool, pages *int) string {
	t.Helper()
	names := make([]string, 0, len(repos))
	for r := range repos {
		names = append(names, r)
	}
	sort.Strings(names)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/v2/_catalog":
			*pages++
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			last := r.URL.Query().Get("last")
			var page []string
			for _, name := range names {
				if (stuck || name > last) && len(page) < n {
					page = append(page, name)
				}
			}
			json.NewEncoder(w).Encode(map[string][]string{"repositories": page})
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
			tags, ok := repos[repo]
			if !ok {
				http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`, http.StatusNotFound)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"name": repo, "tags": tags})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestListImages(t *testing.T) {
	repos := map[string][]string{
		"a/one": {"2.0", "1.0", "1.1", "latest"}, "a/two": {"1.0"}, "b/three": {"0.9", "1.0"},
		"c/four": {"x"}, "c/five": {"1.5"},
	}
	pages := 0
	host := catalogServer(t, repos, false, &pages)
	opts := scanner.SourceOptions{Insecure: []string{host}}
	ctx := context.Background()
	got, err := scanner.ListImages(ctx, host, scanner.ListOptions{PageSize: 2}, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/one:1.0", "a/one:1.1", "a/one:2.0", "a/one:latest", "a/two:1.0", "b/three:0.9", "b/three:1.0", "c/five:1.5", "c/four:x"}
	for i := range want {
		want[i] = host + "/" + want[i]
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || pages != 3 {
		t.Errorf("catalog in pages of 2: %d pages, %q", pages, got)
	}
	got, err = scanner.ListImages(ctx, host+"/a/one", scanner.ListOptions{Tags: "1.*", MaxTags: 1}, opts)
	if err != nil || strings.Join(got, " ") != host+"/a/one:1.0" {
		t.Errorf("--tags 1.* --max-tags 1: %q %v", got, err)
	}
	for _, tc := range []struct{ target, opt, msg string }{
		{host + "/a/one:1.0", "", "not a repository"},
		{host + "/no/such", "", "not found"},
		{host, "[", "tag filter"},
	} {
		_, err := scanner.ListImages(ctx, tc.target, scanner.ListOptions{Tags: tc.opt}, opts)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.target, err, tc.msg)
		}
	}
	stuck := catalogServer(t, repos, true, &pages)
	if _, err := scanner.ListImages(ctx, stuck, scanner.ListOptions{PageSize: 2}, scanner.SourceOptions{Insecure: []string{stuck}}); err == nil || !strings.Contains(err.Error(), "does not move past") {
		t.Errorf("a catalog that repeats its first page: %v", err)
	}
}

func TestIsRegistryHost(t *testing.T) {
	for in, want := range map[string]bool{
		"registry.example.com": true, "127.0.0.1:5000": true, "localhost": true, "localhost:5000": true,
		"alpine": false, "library/alpine": false, "registry.example.com/team/app": false,
	} {
		if got := scanner.IsRegistryHost(in); got != want {
			t.Errorf("IsRegistryHost(%q) = %v", in, got)
		}
	}
}
