package web

import (
	"net/http"
	"slices"

	"github.com/storegraph/storegraph/config"
)

// withCORS answers preflight requests and marks responses readable by the origins p allows.
// With no origins configured it adds nothing, so browsers keep other sites out.
func withCORS(p config.CORS, next http.Handler) http.Handler {
	if len(p.Origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(p.Origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		} else {
			h.Add("Vary", "Origin")
		}
		if allowed := origin != "" && (anyOrigin || slices.Contains(p.Origins, origin)); !allowed {
			if preflight {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if p.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}
