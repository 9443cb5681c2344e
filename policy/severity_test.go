package policy

import "testing"

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    Severity
		wantErr bool
	}{
		{"low", SeverityLow, false},
		{"Medium", SeverityMedium, false},
		{" HIGH ", SeverityHigh, false},
		{"critical", SeverityCritical, false},
		{"", "", true},
		{"urgent", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSeverity(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseSeverity(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestSeverityOrder: low < medium < high < critical, as --fail-on needs.
func TestSeverityOrder(t *testing.T) {
	all := Severities()
	for i, a := range all {
		for j, b := range all {
			if got, want := a.AtLeast(b), i >= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", a, b, got, want)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if Severity("bogus").AtLeast(SeverityLow) {
		t.Error("an invalid severity is at least low")
	}
}
