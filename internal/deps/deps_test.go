package deps

import (
	_ "github.com/klauspost/compress/flate"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
)
