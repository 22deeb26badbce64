// Package config loads Hangar's local configuration and gives access to the shared
// configuration that every manager process reads from etcd.
//
// # Local configuration: manager.toml
//
// [Load] reads manager.toml the way Backend.AI's manager does: an explicit path (the
// --config flag) wins; otherwise the first file found among ./manager.toml,
// ~/.config/backend.ai/manager.toml and /etc/backend.ai/manager.toml is used; when none
// exists the defaults describe the local halfstack (etcd 127.0.0.1:8120 namespace "local",
// PostgreSQL 127.0.0.1:8100 database "hangar" user "postgres" password "develove", Redis
// 127.0.0.1:8110 password "develove"). The halfstack passwords apply only to the halfstack
// addresses: a file or environment that names another server sends only the credentials
// it names. Sections and keys follow Backend.AI's manager.toml ([etcd], [db], [manager],
// [logging], [debug]); Hangar also accepts a [redis] section (Backend.AI keeps Redis in
// etcd at config/redis/addr and config/redis/password, which Hangar reads when [redis]
// names no address). Keys Hangar does not use are ignored and listed in [Manager.Ignored].
// Addresses may be written as {host = "...", port = N} or as "host:port". Environment
// variables override the file: BACKEND_NAMESPACE, BACKEND_ETCD_ADDR, BACKEND_ETCD_USER,
// BACKEND_ETCD_PASSWORD, BACKEND_DB_ADDR, BACKEND_DB_NAME, BACKEND_DB_USER,
// BACKEND_DB_PASSWORD, BACKEND_DB_SSL_MODE, BACKEND_REDIS_ADDR, BACKEND_REDIS_USERNAME,
// BACKEND_REDIS_PASSWORD, BACKEND_SERVICE_ADDR, BACKEND_MANAGER_NPROC and
// BACKEND_PID_FILE, each also spelled with a HANGAR_ prefix (which wins when both are set).
//
// # Credentials and TLS
//
//	[etcd]  user, password             an etcd with authentication enabled (Backend.AI's keys)
//	        ssl-enabled, ssl-ca,       TLS to etcd (Hangar's keys; see [TLSOptions]): the CA
//	        ssl-cert, ssl-key,         bundle that signs the server, a client certificate and
//	        ssl-server-name            key, the name the server certificate carries
//	[db]    user, password             PostgreSQL login (scram-sha-256 or md5 password auth)
//	        ssl-mode                   libpq sslmode: disable (default), allow, prefer,
//	                                   require, verify-ca, verify-full
//	        ssl-ca, ssl-cert, ssl-key  libpq sslrootcert, sslcert, sslkey
//	[redis] username, password         requirepass, or an ACL user (username is Hangar's key)
//	        ssl-enabled, ssl-ca, ...   TLS to Redis, as for etcd
//
// agent.toml's [redis] section takes the same username, password and ssl-* keys.
// Refused credentials give one line naming the service and the keys to set.
//
// # Shared configuration: etcd
//
// Shared configuration lives in etcd under /sorna/<namespace>/ with Backend.AI's key layout
// (config/..., manager/status, manager/announcement, volumes/..., nodes/...). [Etcd] is a
// thin store over the etcd v3 client that maps keys into the namespace, reads a prefix as
// nested maps and writes nested JSON as flattened keys, with Backend.AI's semantics for a
// key that has both a value and children (the value appears under the "" key). [Shared]
// keeps a live, watched copy of the namespace so the API and workers react to changes
// without a restart. [Campaign] elects one leader among manager processes.
//
// # Unreachable services
//
// When PostgreSQL, Redis or etcd does not answer, the helpers here return an
// [UnreachableError] whose message is a single line naming the service, its address and how
// to start the local halfstack, so commands can print it as is.
package config
