package reconciler

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/plumbline/plumbline/diff"
	"github.com/plumbline/plumbline/manifests"
	"github.com/plumbline/plumbline/report"
)

// objectError is the report's error for one object; Secret values never leave in its text.
func objectError(obj *unstructured.Unstructured, image string, err error) report.Error {
	ref := refOf(obj)
	return report.Error{Object: &ref, Image: image, Message: diff.ScrubSecretValues(obj, err.Error())}
}

func missingFinding(o manifests.Object) report.Finding {
	return report.Finding{
		Type:    report.Missing,
		Object:  refOf(o.Object),
		Message: "Declared in Git but absent from the cluster",
		Source:  o.Source,
	}
}

func modifiedFinding(o manifests.Object, fields []diff.Field) report.Finding {
	out := make([]report.Field, len(fields))
	for i, f := range fields {
		out[i] = report.Field{Path: f.Path, Desired: f.Desired, Live: f.Live, Manager: f.Manager, Time: f.Time, Masked: f.Masked, Note: f.Note}
	}
	return report.Finding{
		Type:    report.Modified,
		Object:  refOf(o.Object),
		Message: report.DescribeFields(out),
		Source:  o.Source,
		Fields:  out,
	}
}

func extraFinding(live *unstructured.Unstructured, reason, sourceName string) report.Finding {
	f := report.Finding{Type: report.Extra, Reason: reason, Object: refOf(live)}
	switch reason {
	case report.ReasonPrunedFromGit:
		f.Message = fmt.Sprintf("No longer declared in Git, but it carries %s=%s", LabelSource, sourceName)
	default:
		f.Message = "Not declared in Git: created in the cluster" + creator(live)
	}
	return f
}

// creator says who created an object, from its oldest managedFields entry.
func creator(u *unstructured.Unstructured) string {
	var manager string
	var at *time.Time
	for _, e := range u.GetManagedFields() {
		if e.Time == nil {
			continue
		}
		if at == nil || e.Time.Time.Before(*at) {
			t := e.Time.UTC()
			manager, at = e.Manager, &t
		}
	}
	if manager == "" {
		return ""
	}
	return fmt.Sprintf(" by %s at %s", manager, at.Format(time.RFC3339))
}
