package lambdatest

import "testing"

func TestParameterValues(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(`
Parameters:
  Mode: {Type: String, Default: "false"}
  Name: {Type: String, Default: keysweep}
  Empty: {Type: String, Default: ""}
`))
	if err != nil {
		t.Fatal(err)
	}
	params, err := parameterValues(tmpl, map[string]string{"Mode": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if params["Mode"] != "true" || params["Name"] != "keysweep" || params["Empty"] != "" {
		t.Errorf("parameters %v, want the defaults with Mode overridden", params)
	}
	if _, err := parameterValues(tmpl, map[string]string{"Mdoe": "true"}); err == nil {
		t.Error("an override of no parameter was accepted")
	}
}
