package wsutil

// IdleGrace is idleGrace, for the external tests.
const IdleGrace = idleGrace
