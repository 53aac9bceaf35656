package main

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
)

// corsPolicy says which other origins' pages may call the API from a browser.
type corsPolicy struct {
	origins     []string // exact origins, e.g. "https://shop.example"; "*" allows any
	credentials bool     // let browsers send cookies and HTTP auth along
}

// loadCORS reads CORS_ORIGINS (comma-separated) and CORS_ALLOW_CREDENTIALS.
func loadCORS() (corsPolicy, error) {
	var p corsPolicy
	for o := range strings.SplitSeq(os.Getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			p.origins = append(p.origins, strings.TrimSuffix(o, "/"))
		}
	}
	if v := os.Getenv("CORS_ALLOW_CREDENTIALS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, errors.New("CORS_ALLOW_CREDENTIALS=" + strconv.Quote(v) + " is not true or false")
		}
		p.credentials = b
	}
	if p.credentials && slices.Contains(p.origins, "*") {
		// Browsers refuse credentials with a wildcard origin; echoing any origin instead
		// would let every site act as the signed-in user.
		return p, errors.New(`CORS_ALLOW_CREDENTIALS=true needs CORS_ORIGINS to list origins, not "*"`)
	}
	return p, nil
}

// wrap answers preflight requests and marks responses readable by allowed origins. With no
// origins configured it adds nothing, so browsers keep other sites out.
func (p corsPolicy) wrap(next http.Handler) http.Handler {
	if len(p.origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(p.origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
		} else {
			h.Add("Vary", "Origin")
		}
		if allowed := origin != "" && (anyOrigin || slices.Contains(p.origins, origin)); !allowed {
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
		if p.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Accept, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}
