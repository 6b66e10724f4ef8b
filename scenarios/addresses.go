package scenarios

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxRangeAddresses bounds one source-address range.
const maxRangeAddresses = 4096

// ExpandAddresses turns "127.0.0.1-127.0.0.8" into its eight addresses; a
// single address is returned as is.
func ExpandAddresses(s string) ([]string, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	first, err := netip.ParseAddr(strings.TrimSpace(lo))
	if err != nil {
		return nil, fmt.Errorf("%q is not an IP address", lo)
	}
	if !isRange {
		return []string{first.String()}, nil
	}
	last, err := netip.ParseAddr(strings.TrimSpace(hi))
	if err != nil {
		return nil, fmt.Errorf("%q is not an IP address", hi)
	}
	if first.Is4() != last.Is4() || last.Less(first) {
		return nil, fmt.Errorf("range %s: the end must be an address of the same family after the start", s)
	}
	var out []string
	for a := first; ; a = a.Next() {
		out = append(out, a.String())
		if a == last {
			break
		}
		if len(out) >= maxRangeAddresses {
			return nil, fmt.Errorf("range %s holds more than %d addresses", s, maxRangeAddresses)
		}
	}
	return out, nil
}
