package main

import (
	"strings"

	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/gofiber/fiber/v2"
)

// parseCSVOpts reads ?table=, ?sep=, ?bom= (and takes the paper's language). Bad values are
// 400 invalid_request.
func parseCSVOpts(c *fiber.Ctx, l i18n.Locale) (papers.CSVOpts, error) {
	return parseCSVOptsOf(c, l, papers.ReportTables)
}

// parseCSVOptsOf is parseCSVOpts for a paper whose tables are tables, the first the default.
func parseCSVOptsOf(c *fiber.Ctx, l i18n.Locale, tables []string) (papers.CSVOpts, error) {
	o := papers.CSVOpts{Table: c.Query("table", tables[0]), Lang: l}
	valid := false
	for _, t := range tables {
		valid = valid || t == o.Table
	}
	if !valid {
		return o, badRequest("table must be %s or %s", strings.Join(tables[:len(tables)-1], ", "), tables[len(tables)-1])
	}
	switch c.Query("sep", "comma") {
	case "comma":
	case "semicolon":
		o.Semicolon = true
	default:
		return o, badRequest("sep must be comma or semicolon")
	}
	switch c.Query("bom", "false") {
	case "false":
	case "true":
		o.BOM = true
	default:
		return o, badRequest("bom must be true or false")
	}
	return o, nil
}
