package postgres

// For the tests of package postgres_test (which may import storagetest, itself importing
// this package).
var (
	CheckSettings = checkSettings
	IsCode        = isCode
)
