package api

import (
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// This file reproduces the part of Laravel's Validator the two event
// routes use (rules required, required_without, string, array over a
// json_decode'd body), with Laravel 10+ English messages. Reverb answers
// 422 with the MessageBag: attributes in rule order (wildcard expansions
// after the plain rules), one message each because validation of an
// attribute stops once an implicit (required*) rule failed and no
// attribute here has two non-implicit rules that can both fail.

type ruleKind int

const (
	ruleRequired ruleKind = iota
	ruleRequiredWithout
	ruleString
	ruleArray
)

type rule struct {
	kind  ruleKind
	other string // required_without's parameter
}

func (r rule) implicit() bool { return r.kind == ruleRequired || r.kind == ruleRequiredWithout }

// attrRules is one attribute with its rules, in order.
type attrRules struct {
	attr  string
	rules []rule
	// wildcard marks attributes expanded from "batch.*.x": Laravel shows
	// those names raw instead of replacing '_' with ' '.
	wildcard bool
}

var (
	required   = rule{kind: ruleRequired}
	isString   = rule{kind: ruleString}
	isArray    = rule{kind: ruleArray}
	without    = func(other string) rule { return rule{kind: ruleRequiredWithout, other: other} }
	eventRules = []attrRules{
		{attr: "name", rules: []rule{required, isString}},
		{attr: "data", rules: []rule{required, isString}},
		{attr: "channels", rules: []rule{without("channel"), isArray}},
		{attr: "channel", rules: []rule{without("channels"), isString}},
		{attr: "socket_id", rules: []rule{isString}},
		{attr: "info", rules: []rule{isString}},
	}
	batchItemRules = []attrRules{
		{attr: "name", rules: []rule{required, isString}},
		{attr: "data", rules: []rule{required, isString}},
		{attr: "channel", rules: []rule{without("channels"), isString}},
		{attr: "socket_id", rules: []rule{isString}},
		{attr: "info", rules: []rule{isString}},
	}
)

// batchRules expands Reverb's batch rules over the items of payload.batch
// the way Laravel's explodeWildcardRules does: "batch" first, then each
// wildcard rule for every item in order.
func batchRules(payload *php.OrderedArray) []attrRules {
	out := []attrRules{{attr: "batch", rules: []rule{required, isArray}}}
	b, _ := payload.GetString("batch")
	if b.Kind() != php.Array {
		return out
	}
	items := b.ArrayVal()
	for _, r := range batchItemRules {
		for _, k := range items.Keys {
			out = append(out, attrRules{attr: "batch." + k.String() + "." + r.attr, rules: r.rules, wildcard: true})
		}
	}
	return out
}

// validationError is one failing attribute and its message.
type validationError struct {
	attr, msg string
}

// validate returns the failures in MessageBag order (nil when valid).
func validate(payload *php.OrderedArray, set []attrRules) []validationError {
	var errs []validationError
	for _, ar := range set {
		value, present := lookup(payload, ar.attr)
		for _, r := range ar.rules {
			// presentOrRuleIsImplicit: blank strings only meet implicit
			// rules; absent attributes likewise.
			if s := value; s.Kind() == php.String && php.Trim(s.StringVal()) == "" {
				if !r.implicit() {
					continue
				}
			} else if !present && !r.implicit() {
				continue
			}
			if passes(payload, r, value) {
				continue
			}
			errs = append(errs, validationError{ar.attr, message(ar, r)})
			break // an implicit rule failed (stop), or the last rule did
		}
	}
	return errs
}

func passes(payload *php.OrderedArray, r rule, v php.Value) bool {
	switch r.kind {
	case ruleRequired:
		return filled(v)
	case ruleRequiredWithout:
		if other, _ := lookup(payload, r.other); !filled(other) {
			return filled(v)
		}
		return true
	case ruleString:
		return v.Kind() == php.String
	case ruleArray:
		return v.Kind() == php.Array
	}
	return false
}

// filled is Laravel's validateRequired: not null, not a blank string, not
// an empty array.
func filled(v php.Value) bool {
	switch v.Kind() {
	case php.Null:
		return false
	case php.String:
		return php.Trim(v.StringVal()) != ""
	case php.Array:
		return v.ArrayVal().Len() > 0
	}
	return true
}

// lookup is Laravel's data_get with dot notation over decoded JSON; present
// reports Arr::has (the key exists, even with a null value).
func lookup(a *php.OrderedArray, dotted string) (php.Value, bool) {
	return php.Lookup(php.ArrayValue(a), dotted)
}

// displayName is Laravel's getDisplayableAttribute without custom names.
func displayName(attr string, wildcard bool) string {
	if wildcard {
		return attr
	}
	return strings.ReplaceAll(attr, "_", " ")
}

func message(ar attrRules, r rule) string {
	name := displayName(ar.attr, ar.wildcard)
	switch r.kind {
	case ruleRequired:
		return "The " + name + " field is required."
	case ruleRequiredWithout:
		return "The " + name + " field is required when " + displayName(r.other, false) + " is not present."
	case ruleString:
		return "The " + name + " field must be a string."
	case ruleArray:
		return "The " + name + " field must be an array."
	}
	return "The " + name + " field is invalid."
}

// errorsBody is the MessageBag as JSON: {"attr":["message"],...}.
func errorsBody(errs []validationError) []byte {
	var o object
	for _, e := range errs {
		o.key(e.attr)
		o.b = append(o.b, '[')
		o.b = phpjson.AppendSymfonyString(o.b, e.msg)
		o.b = append(o.b, ']')
	}
	return o.bytes()
}
