package resolver

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/minilang"
)

// MaxPageSize is the largest limit a *_list field accepts (Backend.AI's client asks for at
// most 100).
const MaxPageSize = 1000

// listQuery builds the SQL of one paginated list: fixed scope conditions, the caller's filter
// and order compiled by minilang over the list's field table, all values as bind parameters.
// It is the one place dynamic list SQL is written.
type listQuery struct {
	// Select is the row expression, e.g. "s.*": its columns must match T of runList in order.
	Select string
	// From is the FROM clause (table and joins the field table's columns refer to).
	From string
	// Fields is the filter/order whitelist.
	Fields minilang.Fields
	// DefaultOrder applies when no order is given; Tiebreak is always appended.
	DefaultOrder string
	Tiebreak     string

	conds []string
	args  minilang.Args
}

// where adds a condition; each "?" in cond is bound to the next of vals.
func (q *listQuery) where(cond string, vals ...any) {
	for _, v := range vals {
		cond = strings.Replace(cond, "?", q.args.Add(v), 1)
	}
	q.conds = append(q.conds, cond)
}

func (q *listQuery) whereSQL(filter *string) (string, error) {
	conds := q.conds
	if filter != nil && strings.TrimSpace(*filter) != "" {
		f, err := minilang.CompileFilter(*filter, namedConverters(q.Fields), &q.args)
		if err != nil {
			return "", err
		}
		if f != "" {
			conds = append(conds, f)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), nil
}

func checkPage(limit, offset int) error {
	if limit < 0 || limit > MaxPageSize {
		return errInvalidParams(fmt.Sprintf("limit must be between 0 and %d", MaxPageSize))
	}
	if offset < 0 {
		return errInvalidParams("offset must not be negative")
	}
	return nil
}

// runList answers one page and the total count over the same scope and filter.
func runList[T any](ctx context.Context, conn db.DBTX, q *listQuery, limit, offset int, filter, order *string) ([]*T, int, error) {
	if err := checkPage(limit, offset); err != nil {
		return nil, 0, err
	}
	where, err := q.whereSQL(filter)
	if err != nil {
		return nil, 0, err
	}
	orderBy := q.DefaultOrder
	if order != nil {
		o, err := minilang.CompileOrder(*order, q.Fields)
		if err != nil {
			return nil, 0, err
		}
		orderBy = o
	}
	if orderBy == "" {
		orderBy = q.Tiebreak
	} else if q.Tiebreak != "" {
		orderBy += ", " + q.Tiebreak
	}
	var total int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+q.From+where, q.args.Values...).Scan(&total); err != nil {
		return nil, 0, filterFailure(err, filter)
	}
	if limit == 0 || total <= offset {
		return []*T{}, total, nil
	}
	args := append([]any{}, q.args.Values...)
	sql := fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s LIMIT $%d OFFSET $%d", q.Select, q.From, where, orderBy, len(args)+1, len(args)+2)
	args = append(args, limit, offset)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, filterFailure(err, filter)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[T])
	if err != nil {
		return nil, 0, filterFailure(err, filter)
	}
	return items, total, nil
}

// runAll answers every row of a non-paginated root field (capped at cap rows).
func runAll[T any](ctx context.Context, conn db.DBTX, q *listQuery, limit int) ([]*T, error) {
	where, err := q.whereSQL(nil)
	if err != nil {
		return nil, err
	}
	orderBy := q.DefaultOrder
	if orderBy == "" {
		orderBy = q.Tiebreak
	}
	sql := fmt.Sprintf("SELECT %s FROM %s%s", q.Select, q.From, where)
	if orderBy != "" {
		sql += " ORDER BY " + orderBy
	}
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := conn.Query(ctx, sql, q.args.Values...)
	if err != nil {
		return nil, db.Translate(err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[T])
	if err != nil {
		return nil, db.Translate(err)
	}
	return items, nil
}

// typedFields returns a list's filter/order table after checking that every filterable name
// has a converter: without one a literal of the wrong type (`name == 5` on a text column)
// would reach the database as is and fail there, instead of being a parsing error that names
// the field. A table without converters is a programming error, caught when the package
// loads.
func typedFields(fields minilang.Fields) minilang.Fields {
	for name, f := range fields {
		if !f.NoFilter && f.Convert == nil {
			panic("gql: filter field " + name + " has no converter")
		}
	}
	return fields
}

// namedConverters returns fields with each converter's complaint naming the field it was
// about ("expected an integer; got `x` (field rate_limit)").
func namedConverters(fields minilang.Fields) minilang.Fields {
	out := make(minilang.Fields, len(fields))
	for name, f := range fields {
		if conv := f.Convert; conv != nil {
			f.Convert = func(v minilang.Value) (any, error) {
				val, err := conv(v)
				if err != nil {
					return nil, fmt.Errorf("%w (field %s)", err, name)
				}
				return val, nil
			}
		}
		out[name] = f
	}
	return out
}
