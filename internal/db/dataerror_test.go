package db

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestDataError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		msg  string
		data bool
	}{
		{&pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "x"`}, `invalid input syntax for type integer: "x"`, true},
		{fmt.Errorf("count: %w", &pgconn.PgError{Code: "22025", Message: "LIKE pattern must not end with escape character"}), "LIKE pattern must not end with escape character", true},
		{Translate(&pgconn.PgError{Code: "22003", Message: "integer out of range"}), "integer out of range", true},
		{errors.New("failed to encode args[2]: unable to encode true into binary format for int4 (OID 23)"), "a value does not fit the type of its field", true},
		{&pgconn.PgError{Code: "42P01", Message: "relation does not exist"}, "", false},
		{&pgconn.PgError{Code: "23505", Message: "duplicate key"}, "", false},
		{errors.New("connection reset by peer"), "", false},
		{nil, "", false},
	} {
		msg, ok := DataError(tc.err)
		require.Equal(t, tc.data, ok, "%v", tc.err)
		if ok {
			require.Equal(t, tc.msg, msg)
		}
	}
}
