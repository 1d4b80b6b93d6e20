package api

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	"github.com/reverb-go/reverb/server/phpjson"
)

// phpValidator runs Laravel's own Validator (Illuminate from PHP's include
// path) with Reverb's rules and Laravel 10+ English messages; it prints the
// errors as JSON, or PASS.
const phpValidator = `
require 'Illuminate/autoload.php';
$loader = new Illuminate\Translation\ArrayLoader();
$loader->addMessages('en', 'validation', [
    'required' => 'The :attribute field is required.',
    'string' => 'The :attribute field must be a string.',
    'array' => 'The :attribute field must be an array.',
    'required_without' => 'The :attribute field is required when :values is not present.',
]);
$factory = new Illuminate\Validation\Factory(new Illuminate\Translation\Translator($loader, 'en'));
$rules = [
  'events' => [
    'name' => ['required', 'string'],
    'data' => ['required', 'string'],
    'channels' => ['required_without:channel', 'array'],
    'channel' => ['required_without:channels', 'string'],
    'socket_id' => ['string'],
    'info' => ['string'],
  ],
  'batch' => [
    'batch' => ['required', 'array'],
    'batch.*.name' => ['required', 'string'],
    'batch.*.data' => ['required', 'string'],
    'batch.*.channel' => ['required_without:channels', 'string'],
    'batch.*.socket_id' => ['string'],
    'batch.*.info' => ['string'],
  ],
];
while (($line = fgets(STDIN)) !== false) {
    [$set, $json] = explode(' ', trim($line));
    $payload = json_decode(base64_decode($json), true);
    $v = $factory->make($payload, $rules[$set]);
    echo $v->fails() ? json_encode($v->errors()->toArray()) : 'PASS', "\n";
}`

// TestValidationAgainstLaravel compares validate with Laravel's Validator
// (Illuminate 8 with Laravel 10 messages; the rule logic is the same) over
// a corpus of bodies. Skipped without php or Illuminate.
func TestValidationAgainstLaravel(t *testing.T) {
	phpBin := phptest.RequireClasses(t, `Illuminate\Validation\Factory`)
	events := []string{
		`{}`, `[]`, `{"name":"a","data":"b","channel":"c"}`, `{"name":"","data":" ","channel":"\t"}`,
		`{"name":null,"data":null,"channels":null,"channel":null,"socket_id":null,"info":null}`,
		`{"name":1,"data":1.5,"channels":{},"channel":[],"socket_id":true,"info":false}`,
		`{"name":"a","data":"b","channels":["x"],"channel":5}`, `{"name":"a","data":"b","channels":"x"}`,
		`{"name":"a","data":"b","channels":[],"channel":"c"}`, `{"name":"a","data":"b","channels":{"a":1}}`,
		`{"name":[],"data":{"a":"b"},"channel":"c","socket_id":"","info":" "}`, `{"name":"\u0000","data":"\u000b","channel":"x"}`,
		`{"socket_id":1234,"name":"a","data":"b","channel":"c"}`, `{"info":1234,"name":"a","data":"b","channel":"c"}`,
		`{"name":"a","channels":["a"]}`, `["a","b"]`, `{"0":"x","name":"n"}`,
	}
	batches := []string{
		`{}`, `{"batch":[]}`, `{"batch":{}}`, `{"batch":"x"}`, `{"batch":null}`, `{"batch":1}`,
		`{"batch":[{"name":"a","data":"d","channel":"c"}]}`,
		`{"batch":[{"name":"a"},{"data":1,"channel":"c","socket_id":5},"x",null,[],{"info":[]}]}`,
		`{"batch":[{"name":"a","data":"d"}],"channels":["x"]}`, `{"batch":[{"name":"a","data":"d"}],"channels":[]}`,
		`{"batch":{"k":{"name":"a"},"5":{"data":"d"}}}`, `{"batch":[{"name":" ","data":"","channel":"  ","socket_id":" ","info":""}]}`,
		`{"batch":[{"name":{"x":1},"data":["a"],"channel":{"a":"b"}}]}`,
	}
	type tc struct{ set, body string }
	var cases []tc
	for _, b := range events {
		cases = append(cases, tc{"events", b})
	}
	for _, b := range batches {
		cases = append(cases, tc{"batch", b})
	}
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.set + " " + base64.StdEncoding.EncodeToString([]byte(c.body)) + "\n")
	}
	lines := phptest.Lines(t, phpBin, in.String(), "-r", phpValidator)
	for i, c := range cases {
		if i >= len(lines) {
			t.Fatalf("php output ended early:\n%s", strings.Join(lines, "\n"))
		}
		want := lines[i]
		v, err := phpjson.Decode([]byte(c.body))
		if err != nil || v.Kind() != php.Array {
			t.Fatalf("bad case %s", c.body)
		}
		rules := eventRules
		if c.set == "batch" {
			rules = batchRules(v.ArrayVal())
		}
		got := "PASS"
		if errs := validate(v.ArrayVal(), rules); errs != nil {
			// Byte comparison checks the attribute order too (no
			// character here differs between PHP- and Symfony-JSON).
			got = string(errorsBody(errs))
		}
		if got != want {
			t.Errorf("%s %s:\n go  %s\n php %s", c.set, c.body, got, want)
		}
	}
}
