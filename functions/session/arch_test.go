package session_test

import "runtime"

const goarch = runtime.GOARCH
