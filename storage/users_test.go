package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storegraph/storegraph/storage"
)

func TestCreateUserEmails(t *testing.T) {
	// 254 bytes: a 64-byte local part, "@", and a 189-byte domain.
	longest := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mustUser(t, db, "taken@example.com")
		mustUser(t, db, "ünïcode@example.de")

		tests := []struct {
			name      string
			input     string
			wantEmail string
			wantKey   string
			wantErr   string // "" for success
		}{
			{"trims surrounding space and keeps the case", "  Ann.Lee@Example.com \t", "Ann.Lee@Example.com", "ann.lee@example.com", ""},
			{"accepts 254 bytes", longest, longest, longest, ""},
			{"accepts a domain without a dot", "root@localhost", "root@localhost", "root@localhost", ""},
			{"accepts a plus tag", "bo+shop@example.com", "bo+shop@example.com", "bo+shop@example.com", ""},
			{"conflicts regardless of case", "TAKEN@Example.COM", "", "", "An account with that email already exists."},
			{"conflicts after trimming", " taken@example.com ", "", "", "An account with that email already exists."},
			{"conflicts by lower-casing beyond ASCII", "ÜNÏCODE@example.de", "", "", "An account with that email already exists."},
			{"rejects 255 bytes", longest + "m", "", "", "email: Not a valid email address."},
			{"rejects a display name", "A <a@b.c>", "", "", "email: Not a valid email address."},
			{"rejects a quoted display name", `"Ann Lee" <ann@example.com>`, "", "", "email: Not a valid email address."},
			{"rejects angle brackets alone", "<a@b.c>", "", "", "email: Not a valid email address."},
			{"rejects a comment", "a@b.c (Ann)", "", "", "email: Not a valid email address."},
			{"rejects a quoted local part", `"a b"@c.d`, "", "", "email: Not a valid email address."},
			{"rejects no domain", "ann@", "", "", "email: Not a valid email address."},
			{"rejects no @", "ann.example.com", "", "", "email: Not a valid email address."},
			{"rejects no local part", "@example.com", "", "", "email: Not a valid email address."},
			{"rejects two addresses", "a@b.c, d@e.f", "", "", "email: Not a valid email address."},
			{"rejects a header smuggled after a line break", "a@b.c\nBcc: d@e.f", "", "", "email: Not a valid email address."},
			{"rejects a space inside", "ann lee@example.com", "", "", "email: Not a valid email address."},
			{"rejects empty", "", "", "", "email: Not a valid email address."},
			{"rejects only spaces", "   ", "", "", "email: Not a valid email address."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := db.CreateUser(ctx, tt.input, "phc-hash")
				if tt.wantErr != "" {
					if err == nil || err.Error() != tt.wantErr || u != nil {
						t.Fatalf("got %+v, %v; want error %q", u, err, tt.wantErr)
					}
					var (
						ve *storage.ValidationError
						ce *storage.ConflictError
					)
					if !errors.As(err, &ve) && !errors.As(err, &ce) {
						t.Fatalf("error %#v is neither a validation error nor a conflict", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := db.GetUser(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := storage.User{ID: u.ID, Email: tt.wantEmail, EmailKey: tt.wantKey, PasswordHash: "phc-hash", Role: storage.RoleUser,
					CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
				if *got != want || *u != want {
					t.Fatalf("created %+v, read back %+v; want %+v", *u, *got, want)
				}
				if got.CreatedAt.Location() != time.UTC || got.CreatedAt.IsZero() {
					t.Fatalf("created_at %v, want a UTC time", got.CreatedAt)
				}
			})
		}
		users, err := db.ListUsers(ctx)
		if err != nil || len(users) != 6 {
			t.Fatalf("users = %d (%v), want the 2 made first and the 4 accepted", len(users), err)
		}
	})
}

func TestCleanEmailErrorNamesTheField(t *testing.T) {
	_, _, err := storage.CleanEmail("newEmail", "nope")
	var ve *storage.ValidationError
	if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Fields, []storage.FieldError{{Field: "newEmail", Message: "Not a valid email address."}}) {
		t.Fatalf("error = %#v, want one problem with newEmail", err)
	}
	if !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("error %v does not match ErrInvalid", err)
	}
}

func TestConcurrentCreateUserOfOneEmailHasOneWinner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		const n = 8
		var (
			wg     sync.WaitGroup
			errs   = make([]error, n)
			start  = make(chan struct{})
			ctx    = context.Background()
			emails = []string{"Race@Example.com", "race@example.com", "RACE@EXAMPLE.COM", " race@Example.com "}
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = db.CreateUser(ctx, emails[i%len(emails)], "phc-hash")
			})
		}
		close(start)
		wg.Wait()

		wins := 0
		for _, err := range errs {
			var ce *storage.ConflictError
			switch {
			case err == nil:
				wins++
			case !errors.As(err, &ce) || ce.Message != "An account with that email already exists.":
				t.Errorf("unexpected error: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d registrations succeeded, want exactly 1", wins)
		}
		users, err := db.ListUsers(ctx)
		if err != nil || len(users) != 1 || users[0].EmailKey != "race@example.com" {
			t.Fatalf("users = %+v (%v), want one, race@example.com", users, err)
		}
	})
}

func TestGetUserByEmailIgnoresCaseAndSpace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := mustUser(t, db, "Mixed.Case@Example.com")
		notFound := storage.NotFoundError{Resource: "User", Field: "email"}
		tests := []struct {
			name    string
			email   string
			wantID  int64
			wantErr *storage.NotFoundError
		}{
			{"as registered", "Mixed.Case@Example.com", u.ID, nil},
			{"lower case", "mixed.case@example.com", u.ID, nil},
			{"upper case", "MIXED.CASE@EXAMPLE.COM", u.ID, nil},
			{"with surrounding space", " mixed.case@example.com\t", u.ID, nil},
			{"another address", "other@example.com", 0, &notFound},
			{"empty", "", 0, &notFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.GetUserByEmail(ctx, tt.email)
				if tt.wantErr != nil {
					var nf *storage.NotFoundError
					if !errors.As(err, &nf) || *nf != *tt.wantErr || got != nil {
						t.Fatalf("got %+v, %#v; want %#v", got, err, tt.wantErr)
					}
					return
				}
				if err != nil || got.ID != tt.wantID || got.Email != "Mixed.Case@Example.com" {
					t.Fatalf("got %+v, %v; want user %d", got, err, tt.wantID)
				}
			})
		}
	})
}

func TestGetUsersReadsABatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a, b, c := mustUser(t, db, "a@example.com"), mustUser(t, db, "b@example.com"), mustUser(t, db, "c@example.com")
		tests := []struct {
			name string
			ids  []int64
			want []int64
		}{
			{"some, in any order, with a missing one", []int64{c.ID, 999999, a.ID}, []int64{a.ID, c.ID}},
			{"a repeated id once", []int64{b.ID, b.ID}, []int64{b.ID}},
			{"only missing ones", []int64{999999}, nil},
			{"none", nil, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, counter := storage.WithStatementCounter(ctx)
				users, err := db.GetUsers(ctx, tt.ids)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for id, u := range users {
					if u.ID != id {
						t.Fatalf("user %d under id %d", u.ID, id)
					}
					got = append(got, id)
				}
				slices.Sort(got)
				if !reflect.DeepEqual(got, tt.want) || counter.Count() != 1 {
					t.Fatalf("ids = %v in %d statements, want %v in 1", got, counter.Count(), tt.want)
				}
			})
		}

		all, err := db.ListUsers(ctx)
		if err != nil || len(all) != 3 || *all[0] != *a || *all[1] != *b || *all[2] != *c {
			t.Fatalf("list = %+v (%v), want a, b, c", all, err)
		}
		var nf *storage.NotFoundError
		if _, err := db.GetUser(ctx, 999999); !errors.As(err, &nf) || *nf != (storage.NotFoundError{Resource: "User", Field: "id"}) {
			t.Fatalf("missing user: %#v, want User not found for id", err)
		}
	})
}

func TestSetUserRoleIsForAdmins(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		boss, err := db.PromoteUser(ctx, mustUser(t, db, "boss@example.com").Email)
		if err != nil {
			t.Fatal(err)
		}
		target := mustUser(t, db, "target@example.com")
		admin := storage.Actor{UserID: boss.ID, Admin: true}

		tests := []struct {
			name     string
			actor    storage.Actor
			id       int64
			role     storage.Role
			wantErr  error  // the error's type and value, nil for success
			wantRole string // target's role afterwards
		}{
			{"an admin makes a user an admin", admin, target.ID, storage.RoleAdmin, nil, "ADMIN"},
			{"an admin sets the role it has", admin, target.ID, storage.RoleAdmin, nil, "ADMIN"},
			{"an admin makes an admin a user", admin, target.ID, storage.RoleUser, nil, "USER"},
			{"a user may not make itself an admin", storage.Actor{UserID: target.ID}, target.ID, storage.RoleAdmin,
				&storage.ForbiddenError{Message: "Only an admin can do this."}, "USER"},
			{"nobody may", storage.Actor{}, target.ID, storage.RoleAdmin, &storage.ForbiddenError{Message: "Only an admin can do this."}, "USER"},
			{"a missing user is not found", admin, 999999, storage.RoleAdmin, &storage.NotFoundError{Resource: "User", Field: "userId"}, "USER"},
			{"a role that does not exist is refused", admin, target.ID, "ROOT", storage.Invalid("role", "Role must be USER or ADMIN."), "USER"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := db.SetUserRole(ctx, tt.actor, tt.id, tt.role)
				if tt.wantErr != nil {
					if err == nil || reflect.TypeOf(err) != reflect.TypeOf(tt.wantErr) || !reflect.DeepEqual(err, tt.wantErr) || u != nil {
						t.Fatalf("got %+v, %#v; want %#v", u, err, tt.wantErr)
					}
				} else if err != nil || u.ID != tt.id || string(u.Role) != tt.wantRole {
					t.Fatalf("got %+v, %v; want role %s", u, err, tt.wantRole)
				}
				got, err := db.GetUser(ctx, target.ID)
				if err != nil || string(got.Role) != tt.wantRole {
					t.Fatalf("target read back %+v (%v), want role %s", got, err, tt.wantRole)
				}
			})
		}
		if !errors.Is(&storage.ForbiddenError{Message: "x"}, storage.ErrForbidden) {
			t.Fatal("a ForbiddenError does not match ErrForbidden")
		}
	})
}

func TestPromoteUserByEmail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := mustUser(t, db, "Chief@Example.com")
		for _, email := range []string{" chief@example.com ", "CHIEF@EXAMPLE.COM"} { // the second finds an admin already
			got, err := db.PromoteUser(ctx, email)
			if err != nil || got.ID != u.ID || got.Role != storage.RoleAdmin {
				t.Fatalf("promote %q: %+v, %v; want user %d as ADMIN", email, got, err, u.ID)
			}
		}
		if got, err := db.GetUser(ctx, u.ID); err != nil || got.Role != storage.RoleAdmin || !got.UpdatedAt.After(u.UpdatedAt) {
			t.Fatalf("read back %+v (%v), want ADMIN, updated after %v", got, err, u.UpdatedAt)
		}
		var nf *storage.NotFoundError
		if _, err := db.PromoteUser(ctx, "nobody@example.com"); !errors.As(err, &nf) || *nf != (storage.NotFoundError{Resource: "User", Field: "email"}) {
			t.Fatalf("promote a missing user: %#v, want User not found for email", err)
		}
	})
}

func TestSetPasswordHash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u := mustUser(t, db, "rehash@example.com")
		if err := db.SetPasswordHash(ctx, u.ID, "new-phc"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.GetUser(ctx, u.ID); err != nil || got.PasswordHash != "new-phc" || !got.UpdatedAt.After(u.UpdatedAt) {
			t.Fatalf("read back %+v (%v), want the new hash, updated after %v", got, err, u.UpdatedAt)
		}
		var nf *storage.NotFoundError
		if err := db.SetPasswordHash(ctx, 999999, "x"); !errors.As(err, &nf) || *nf != (storage.NotFoundError{Resource: "User"}) {
			t.Fatalf("missing user: %#v, want User not found", err)
		}
	})
}

// The last admin cannot be made a user: nobody could give a role again. With two admins
// demoting each other at once, exactly one demotion succeeds.
func TestTheLastAdminIsNotDemoted(t *testing.T) {
	lastAdmin := &storage.ConflictError{Message: "That user is the last admin: make another user an admin first."}
	forEachBackend(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		promote := func(email string) *storage.User {
			t.Helper()
			u, err := db.PromoteUser(ctx, mustUser(t, db, email).Email)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		role := func(id int64) storage.Role {
			t.Helper()
			u, err := db.GetUser(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return u.Role
		}
		ann := promote("ann@example.com")
		asAnn := storage.Actor{UserID: ann.ID, Admin: true}
		if u, err := db.SetUserRole(ctx, asAnn, ann.ID, storage.RoleUser); !reflect.DeepEqual(err, lastAdmin) || u != nil {
			t.Fatalf("the only admin demoting itself: %+v, %#v; want %#v", u, err, lastAdmin)
		}
		if r := role(ann.ID); r != storage.RoleAdmin {
			t.Fatalf("the refused demotion left role %s", r)
		}

		for round := range 10 {
			bob := promote(fmt.Sprintf("bob%d@example.com", round))
			asBob := storage.Actor{UserID: bob.ID, Admin: true}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = db.SetUserRole(ctx, asAnn, bob.ID, storage.RoleUser) })
			wg.Go(func() { _, errs[1] = db.SetUserRole(ctx, asBob, ann.ID, storage.RoleUser) })
			wg.Wait()
			refused := 0
			for _, err := range errs {
				switch {
				case err == nil:
				case reflect.DeepEqual(err, lastAdmin):
					refused++
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			admins := 0
			for _, id := range []int64{ann.ID, bob.ID} {
				if role(id) == storage.RoleAdmin {
					admins++
				}
			}
			if refused != 1 || admins != 1 {
				t.Fatalf("round %d: %d demotions refused (%v), %d admins left; want 1 and 1", round, refused, errs, admins)
			}
			if role(ann.ID) != storage.RoleAdmin {
				// Bob won: Ann is made an admin again for the next round, by Bob.
				if _, err := db.SetUserRole(ctx, asBob, ann.ID, storage.RoleAdmin); err != nil {
					t.Fatal(err)
				}
				if _, err := db.SetUserRole(ctx, asAnn, bob.ID, storage.RoleUser); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
