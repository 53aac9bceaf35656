package graph

import (
	"encoding/json"
	"net/url"
	"strings"
)

// getProblem says what is wrong with the parameters of a GET request that gqlgen's GET
// transport would refuse with an uncoded error, or "" when nothing is. The variables and
// extensions are decoded the way the transport decodes them, so the two always agree.
func getProblem(params url.Values, parseErr error) string {
	if parseErr != nil {
		return "The URL's query string is malformed."
	}
	for _, name := range []string{"variables", "extensions"} {
		if v := params.Get(name); v != "" {
			var m map[string]any
			if err := json.NewDecoder(strings.NewReader(v)).Decode(&m); err != nil {
				return name + " must be a JSON object."
			}
		}
	}
	return ""
}
