package scanner

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/rules"
)

// imageConfig scans what the image config carries besides its layers: Env
// and Labels (what ENV and LABEL baked in), Entrypoint and Cmd, and every
// history entry's created_by (build arguments, command lines). Locations
// read "config Env NAME", "config Labels NAME", "config Entrypoint",
// "history[N] created_by"; a history entry that made a layer is attributed
// to it.
func (w *walker) imageConfig(cfg *v1.ConfigFile) {
	add := func(loc string, layer int, res rules.Result) {
		for _, f := range res.Findings {
			f.Line = 0 // a config entry or build step has no lines
			w.findings = append(w.findings, Finding{Finding: f, Path: []string{loc}, Layer: layer})
		}
		for _, d := range res.Dismissed {
			w.dismiss([]string{loc}, 0, d.RuleID, d.Key, d.Reason)
		}
	}
	for _, kv := range cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		add("config Env "+k, 0, w.engine.ScanAssignment(k, v))
	}
	labels := make([]string, 0, len(cfg.Config.Labels))
	for k := range cfg.Config.Labels {
		labels = append(labels, k)
	}
	sort.Strings(labels)
	for _, k := range labels {
		add("config Labels "+k, 0, w.engine.ScanAssignment(k, cfg.Config.Labels[k]))
	}
	if len(cfg.Config.Entrypoint)+len(cfg.Config.Cmd) > 0 {
		cmd := strings.Join(append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...), " ")
		add("config Entrypoint", 0, w.engine.ScanEntrypoint(cmd))
	}
	layer := 0
	for i, h := range cfg.History {
		l := 0
		if !h.EmptyLayer {
			layer++
			l = layer
		}
		if h.CreatedBy != "" {
			add(fmt.Sprintf("history[%d] created_by", i), l, w.engine.ScanCommand(h.CreatedBy))
		}
	}
}
