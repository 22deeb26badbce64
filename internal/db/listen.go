package db

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listener receives the notifications of one PostgreSQL channel (see Listen).
type Listener struct {
	// Channel is the channel to LISTEN on.
	Channel string
	// Notify is called with the payload of each notification, in order.
	Notify func(payload string)
	// Synced is called each time the listener has (re)connected and LISTENs: notifications
	// sent before may have been missed.
	Synced func()
	// Lost is called when the connection broke: notifications are missed until Synced.
	Lost func()
	// Logger logs connection failures (slog.Default when nil).
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts (100 ms and 5 s
	// when zero); the wait doubles after each failure.
	MinBackoff, MaxBackoff time.Duration
}

// Listen LISTENs on l.Channel over one dedicated connection, made with pool's connection
// settings (it does not take a connection from the pool), until ctx ends; it reconnects with
// backoff after a failure. It returns when ctx is done.
func (l Listener) Listen(ctx context.Context, pool *pgxpool.Pool) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = 100 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 5 * time.Second
	}
	backoff := minB
	for ctx.Err() == nil {
		synced, err := l.session(ctx, pool.Config().ConnConfig.Copy())
		if ctx.Err() != nil {
			return
		}
		if synced {
			backoff = minB
			if l.Lost != nil {
				l.Lost()
			}
		}
		logger.Warn("notification listener: connection lost, reconnecting", "channel", l.Channel, "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxB)
	}
}

// session runs one connection: connect, LISTEN, report Synced, deliver notifications until an
// error. synced reports whether LISTEN succeeded.
func (l Listener) session(ctx context.Context, cfg *pgx.ConnConfig) (synced bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.Channel}.Sanitize()); err != nil {
		return false, err
	}
	if l.Synced != nil {
		l.Synced()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return true, ctx.Err()
			}
			return true, err
		}
		if l.Notify != nil {
			l.Notify(n.Payload)
		}
	}
}
