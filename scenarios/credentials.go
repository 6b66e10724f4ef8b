package scenarios

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// credRow is one device of a credentials file.
type credRow struct{ pk, dn, ds string }

// credentials is a loaded credentials file.
type credentials struct {
	rows         []credRow
	lines        []int // the line of each row in the file, for messages
	maxPK, maxDN int
	longest      int // the row with the longest pk+dn
}

// truncate keeps the first n rows and recomputes the statistics.
func (c *credentials) truncate(n int) {
	if n >= len(c.rows) {
		return
	}
	c.rows = c.rows[:n:n]
	c.lines = c.lines[:n:n]
	c.maxPK, c.maxDN, c.longest = 0, 0, 0
	longest := -1
	for i, r := range c.rows {
		c.maxPK = max(c.maxPK, len(r.pk))
		c.maxDN = max(c.maxDN, len(r.dn))
		if l := len(r.pk) + len(r.dn); l > longest {
			c.longest, longest = i, l
		}
	}
}

// maxCredErrors bounds the errors reported for one credentials file.
const maxCredErrors = 10

// readCredentials loads a CSV of productKey,deviceName,deviceSecret rows as
// the Alibaba console exports them. A header row naming the columns may be
// present (then extra columns are ignored and the order is free); without a
// header every row has exactly three fields. Errors name file:line:col of
// the bad row; field is the scenario field that refers to the file.
func readCredentials(path, field string, alibaba bool) (*credentials, []*Error) {
	data, err := ReadFileLimited(path, MaxCredentialsSize)
	if err != nil {
		var se *SizeError
		if errors.As(err, &se) {
			return nil, []*Error{{File: path, Field: field, Message: fmt.Sprintf("the credentials file is larger than %s, the limit; split it over several groups", fmtSize(se.Limit)), Err: err}}
		}
		return nil, []*Error{{File: path, Field: field, Message: fmt.Sprintf("cannot read: %v", unwrapPathError(err)), Err: err}}
	}
	return parseCredentials(path, field, data, alibaba)
}

func parseCredentials(path, field string, data []byte, alibaba bool) (*credentials, []*Error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel writes a UTF-8 BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = false

	var errs []*Error
	fail := func(line, col int, format string, args ...any) {
		if len(errs) < maxCredErrors {
			errs = append(errs, &Error{File: path, Line: line, Col: col, Field: field, Message: fmt.Sprintf(format, args...)})
		}
	}
	c := &credentials{}
	cols := [3]int{0, 1, 2}
	want := 3 // exact field count without a header
	first := true
	longestLen := -1
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				fail(pe.Line, pe.Column, "bad CSV: %v", pe.Err)
			} else {
				fail(0, 0, "bad CSV: %v", err)
			}
			break
		}
		line, _ := r.FieldPos(0)
		if first {
			first = false
			if h, ok, msg := headerColumns(rec); ok {
				if msg != "" {
					fail(line, 1, "%s", msg)
					break
				}
				cols, want = h, 0
				continue
			}
		}
		if want > 0 && len(rec) != want {
			fail(line, 1, "row has %d fields, want 3 (productKey,deviceName,deviceSecret)", len(rec))
			continue
		}
		if want == 0 && len(rec) <= max(cols[0], cols[1], cols[2]) {
			fail(line, 1, "row has %d fields, fewer than the header", len(rec))
			continue
		}
		row := credRow{pk: strings.TrimSpace(rec[cols[0]]), dn: strings.TrimSpace(rec[cols[1]]), ds: strings.TrimSpace(rec[cols[2]])}
		bad := false
		for k, v := range []struct {
			val, what string
			max       int
			ok        func(rune) bool
		}{
			{row.pk, "product key", 20, alibabaPKChar},
			{row.dn, "device name", 32, alibabaDNChar},
			{row.ds, "device secret", 64, alibabaDSChar},
		} {
			_, col := r.FieldPos(cols[k])
			if msg := checkIdentity(v.val, v.what, v.max, v.ok, alibaba, k == 2); msg != "" {
				fail(line, col, "%s", msg)
				bad = true
				break
			}
		}
		if bad {
			continue
		}
		if len(row.pk) > c.maxPK {
			c.maxPK = len(row.pk)
		}
		if len(row.dn) > c.maxDN {
			c.maxDN = len(row.dn)
		}
		if l := len(row.pk) + len(row.dn); l > longestLen {
			c.longest, longestLen = len(c.rows), l
		}
		c.rows = append(c.rows, row)
		c.lines = append(c.lines, line)
	}
	if len(errs) == 0 && len(c.rows) == 0 {
		fail(0, 0, "no devices in the file")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// headerColumns recognises a header row and returns the columns of product
// key, device name and device secret. msg is set when the row is a header
// that lacks a column.
func headerColumns(rec []string) (cols [3]int, isHeader bool, msg string) {
	cols = [3]int{-1, -1, -1}
	names := [3]string{"productkey", "devicename", "devicesecret"}
	for i, f := range rec {
		n := normalizeName(f)
		for k, want := range names {
			if n == want && cols[k] < 0 {
				cols[k] = i
				isHeader = true
			}
		}
	}
	if !isHeader {
		return cols, false, ""
	}
	for k, c := range cols {
		if c < 0 {
			return cols, true, fmt.Sprintf("the header has no %s column", []string{"ProductKey", "DeviceName", "DeviceSecret"}[k])
		}
	}
	return cols, true, ""
}

// checkIdentity validates a product key, device name or secret value.
func checkIdentity(v, what string, maxLen int, ok func(rune) bool, alibaba, secret bool) string {
	if v == "" {
		if secret && !alibaba {
			return ""
		}
		return fmt.Sprintf("empty %s", what)
	}
	check := genericIDChar
	if alibaba {
		check = ok
	} else if secret {
		return ""
	}
	shown := strconv.Quote(truncate(v, 40))
	if secret {
		shown = "not shown" // a secret never reaches an error message
	}
	for k, c := range v {
		if !check(c) {
			if secret {
				return fmt.Sprintf("character %d of the %s is not allowed (%s)", utf8.RuneCountInString(v[:k])+1, what, shown)
			}
			return fmt.Sprintf("character %q is not allowed in a %s (%s)", c, what, shown)
		}
	}
	if alibaba && len(v) > maxLen {
		return fmt.Sprintf("the %s (%s) is %d characters; the SDK allows %d", what, shown, len(v), maxLen)
	}
	return ""
}
