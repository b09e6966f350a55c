package main

import "testing"

func TestProductCreateAndList(t *testing.T) {
	ts := newTestServer(t)
	var p map[string]any
	ts.must(201, "POST", "/api/v1/products",
		`{"code":"koper-72h","name":{"sl":"Koper Card 72 ur","en":"Koper Card 72 hours"},"validity_hours":72,"price":"25","audience":"tourist"}`, asAdmin, &p)
	if p["code"] != "koper-72h" || p["price"] != "25.00" || p["validity_hours"] != 72.0 || p["validity_days"] != nil ||
		p["audience"] != "tourist" || p["activation_deadline_days"] != 365.0 {
		t.Fatalf("created %v", p)
	}
	ts.must(201, "POST", "/api/v1/products",
		`{"code":"koper-resident","name":{"sl":"Za občane"},"validity_days":365,"price":"10.5","audience":"resident","activation_deadline_days":30}`, asAdmin, &p)
	if p["price"] != "10.50" || p["validity_days"] != 365.0 || p["validity_hours"] != nil || p["activation_deadline_days"] != 30.0 {
		t.Fatalf("created %v", p)
	}
	for _, bad := range []string{
		`{"code":"both","name":{"en":"X"},"validity_hours":1,"validity_days":1,"price":"1","audience":"tourist"}`,
		`{"code":"neither","name":{"en":"X"},"price":"1","audience":"tourist"}`,
		`{"code":"zero","name":{"en":"X"},"validity_hours":0,"price":"1","audience":"tourist"}`,
		`{"code":"long","name":{"en":"X"},"validity_hours":8761,"price":"1","audience":"tourist"}`,
		`{"code":"days","name":{"en":"X"},"validity_days":3661,"price":"1","audience":"tourist"}`,
		`{"code":"who","name":{"en":"X"},"validity_hours":1,"price":"1","audience":"everyone"}`,
		`{"code":"noname","name":{},"validity_hours":1,"price":"1","audience":"tourist"}`,
	} {
		wantError(t, ts.do("POST", "/api/v1/products", bad, asAdmin), 400, "invalid_request")
	}

	var list listBody[map[string]any]
	ts.must(200, "GET", "/api/v1/products", "", asAdmin, &list)
	if len(list.Items) != 2 || list.Items[0]["code"] != "koper-72h" || list.Items[1]["code"] != "koper-resident" || list.NextCursor != nil {
		t.Fatalf("list %+v", list)
	}
	// A page of one hands out a cursor to the next.
	list = listBody[map[string]any]{}
	ts.must(200, "GET", "/api/v1/products?limit=1", "", asAdmin, &list)
	if len(list.Items) != 1 || list.NextCursor == nil {
		t.Fatalf("first page %+v", list)
	}
	cursor := *list.NextCursor
	list = listBody[map[string]any]{}
	ts.must(200, "GET", "/api/v1/products?limit=1&cursor="+cursor, "", asAdmin, &list)
	if len(list.Items) != 1 || list.Items[0]["code"] != "koper-resident" || list.NextCursor != nil {
		t.Fatalf("second page %+v", list)
	}
}
