package storage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// signingKeySetting names the settings row that holds the access tokens' signing key.
const signingKeySetting = "jwt_signing_key"

// signingKeyBytes is the size of a generated signing key: HS256's output size.
const signingKeyBytes = 32

// SigningKey returns the key that signs access tokens, generating it on first use. It lives
// in the database, so every process serving the database signs and verifies alike and
// tokens outlive restarts. Of processes generating it at once, the first insert wins and
// the others read the winner's key.
func (db *DB) SigningKey(ctx context.Context) ([]byte, error) {
	if key, ok, err := db.readSigningKey(ctx); err != nil || ok {
		return key, err
	}
	key := make([]byte, signingKeyBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	st := db.statement()
	st.write("INSERT INTO settings (name, value) VALUES (", st.arg(signingKeySetting), ", ",
		st.arg(base64.StdEncoding.EncodeToString(key)), ")")
	err := db.writeUnlogged(ctx, func(ctx context.Context) error { _, err := db.exec(ctx, st); return err })
	switch {
	case err == nil:
		return key, nil
	case isUniqueViolation(err):
		key, ok, err := db.readSigningKey(ctx)
		if err == nil && !ok {
			err = errors.New("the signing key another process stored is gone")
		}
		return key, err
	}
	return nil, fmt.Errorf("store signing key: %w", classify(ctx, err))
}

// settingRow receives the value of a settings row.
type settingRow struct {
	Value string `db:"value"`
}

func (db *DB) readSigningKey(ctx context.Context) (key []byte, ok bool, err error) {
	st := db.statement()
	st.write("SELECT value FROM settings WHERE name = ", st.arg(signingKeySetting))
	var rows []settingRow
	if err := db.repo.FindAll(ctx, &rows, st.query()); err != nil {
		return nil, false, fmt.Errorf("read signing key: %w", classify(ctx, err))
	}
	if len(rows) == 0 {
		return nil, false, nil
	}
	// The message names the setting, never its value.
	if key, err = base64.StdEncoding.DecodeString(rows[0].Value); err != nil {
		return nil, false, fmt.Errorf("setting %s is not base64", signingKeySetting)
	}
	return key, true, nil
}
