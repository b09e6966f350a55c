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
	return parseExcelOpts(c, o)
}

// parseExcelOpts reads ?sep= and ?bom= into o, and marks it Localized when ?lang= was given
// (a CSV without lang keeps the contract's headers and codes, as programs read it).
func parseExcelOpts(c *fiber.Ctx, o papers.CSVOpts) (papers.CSVOpts, error) {
	o.Localized = c.Query("lang") != ""
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

// csvFilename is name.csv, or name-excel.csv for the spreadsheet variant, so the two never
// overwrite each other in a download folder.
func csvFilename(name string, o papers.CSVOpts) string {
	if o.Excel() {
		return name + "-excel.csv"
	}
	return name + ".csv"
}
