package metrics

import (
	"strconv"
	"strings"
)

// ReplyCodePacket is the "packet" under which thing-model reply codes are
// counted in the reason codes (Recorder.CountReason): the Alink "code" of
// every …/post_reply a device matched, e.g. "reply_code:200" or
// "reply_code:460". Keeping them with the reason codes gives them the
// merge, wire form and bounds those already have.
const ReplyCodePacket = "reply_code"

// ReplyCodeName is the reason name of an Alink reply code.
func ReplyCodeName(code int) string { return strconv.Itoa(code) }

// ReplyCodes returns the thing-model reply codes of a result, code →
// count (nil when the run matched no reply). 200 is success; see the
// platform's Alink error codes for the others.
func (r *Result) ReplyCodes() map[string]int64 {
	var out map[string]int64
	prefix := ReplyCodePacket + ":"
	for k, v := range r.ReasonCodes {
		if code, ok := strings.CutPrefix(k, prefix); ok {
			if out == nil {
				out = make(map[string]int64)
			}
			out[code] += v
		}
	}
	return out
}

// ReplyErrors returns the matched thing-model replies whose code is not
// 200.
func (r *Result) ReplyErrors() int64 {
	var n int64
	for code, v := range r.ReplyCodes() {
		if code != "200" {
			n += v
		}
	}
	return n
}
