package metrics

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// MaxCounter bounds every counter of a decoded result (2^53, the largest
// integer a float64 holds exactly, about 9·10^15): no run counts that
// many messages, devices or microseconds, and any sum of up to 1024 such
// counters fits in an int64.
const MaxCounter = 1 << 53

// MaxResultSize bounds the size of a result.json document that
// DecodeResult reads (256 MiB).
const MaxResultSize = 256 << 20

// signedFields are the integer fields of a result that may be negative.
var signedFields = map[string]bool{
	"clock_offset_us": true, // a node's clock minus the coordinator's
	"seed":            true,
}

// validateCounters checks every integer of r: non-negative (except the
// signed fields), at most MaxCounter, and the sums over each list and map
// (groups, nodes, series points, counters by reason or QoS) within int64.
// The error names the field by its JSON path.
func validateCounters(r *Result) error {
	return checkValue(reflect.ValueOf(r).Elem(), "")
}

func checkValue(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkValue(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			p := path
			if name != "" { // an embedded struct without a name is inline
				p = joinPath(path, name)
			} else if !f.Anonymous {
				p = joinPath(path, f.Name)
			}
			if err := checkValue(v.Field(i), p); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n := v.Int()
		leaf := path[strings.LastIndexByte(path, '.')+1:]
		if n < 0 && !signedFields[leaf] {
			return fmt.Errorf("%s is negative (%d)", path, n)
		}
		if n > MaxCounter || n < -MaxCounter {
			return fmt.Errorf("%s is %d, beyond the bound of %d", path, n, int64(MaxCounter))
		}
	case reflect.Float64, reflect.Float32:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s is not a finite number", path)
		}
	case reflect.Slice, reflect.Array:
		sums := map[string]int64{}
		for i := 0; i < v.Len(); i++ {
			if err := checkValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
			if err := addSums(sums, v.Index(i), path+"[*]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		sums := map[string]int64{}
		for _, k := range keys {
			e := v.MapIndex(k)
			if err := checkValue(e, fmt.Sprintf("%s[%v]", path, k)); err != nil {
				return err
			}
			if err := addSums(sums, e, path+"[*]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// addSums adds the integer leaves of v (an element of a list or map) to
// sums, keyed by path, refusing a sum that overflows int64.
func addSums(sums map[string]int64, v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return addSums(sums, v.Elem(), path)
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, n := sums[path], v.Int()
		sum := s + n
		if n > 0 && sum < s || n < 0 && sum > s {
			return fmt.Errorf("the sum of %s overflows int64", path)
		}
		sums[path] = sum
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			p := path
			if name != "" {
				p = joinPath(path, name)
			} else if !f.Anonymous {
				p = joinPath(path, f.Name)
			}
			// Only direct integer fields and embedded structs: nested
			// lists and maps keep their own sums.
			switch fv := v.Field(i); fv.Kind() {
			case reflect.Int, reflect.Int64, reflect.Int32, reflect.Struct:
				if err := addSums(sums, fv, p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
