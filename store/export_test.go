package store

// ExplainPostgresForTest exposes explainPostgres to the store_test package.
func ExplainPostgresForTest(user, database, host string, port uint16, err error) error {
	return explainPostgres(pgTarget{user: user, database: database, host: host, port: port}, err)
}
