package main

// The service desk's personal data box (issue 22): download a holder's data as JSON, erase it
// with a reason and a confirmation, in the town's languages, on a phone and on a desk.

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/card"
)

func TestBrowserConsolePersonalData(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	bg := context.Background()
	for i, run := range consoleRuns[:2] {
		t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			ct := openConsole(t, a, tabs, run.lang, run.width, "#desk")
			ctx := ct.ctx
			holder := "Nives Kralj " + strconv.Itoa(i)
			cards, err := a.db.CreateCards(bg, "koper", a.srv.keys, a.demoCard(t, "koper-72h").Product, 1, holder, run.lang)
			if err != nil {
				t.Fatal(err)
			}
			cd := cards[0]
			do(t, ctx, chromedp.SendKeys(chromedp.ID("find-number"), card.FormatNumber(cd.Number)+"\r"),
				waitJS(`!document.getElementById("card-panel").hidden`))

			// Download: the file is the access answer, naming the holder.
			do(t, ctx, chromedp.Click(chromedp.ID("privacy-download")), waitJS(`document.getElementById("privacy-ok").textContent !== ""`))
			name, body := ct.nextDownload(t)
			var pd personalDataJSON
			if err := json.Unmarshal(body, &pd); err != nil || !strings.HasSuffix(name, ".json") || pd.Card.Holder == nil || *pd.Card.Holder != holder {
				t.Fatalf("download %s: %v %s", name, err, body)
			}
			ct.check(t, "console-privacy-"+run.lang)

			// Erase: a reason and the confirmation are both needed.
			do(t, ctx, chromedp.Click(chromedp.ID("erase-submit")), waitJS(`document.getElementById("privacy-error").textContent !== ""`))
			do(t, ctx, chromedp.SendKeys(chromedp.ID("erase-reason"), "asked at the desk"), chromedp.Click(chromedp.ID("erase-submit")),
				waitJS(`document.getElementById("privacy-error").textContent !== ""`))
			if got, _ := a.db.Card(bg, "koper", cd.ID); got.ErasedAt != nil {
				t.Fatal("erased without the confirmation")
			}
			do(t, ctx, chromedp.Click(chromedp.ID("erase-confirm")), chromedp.Click(chromedp.ID("erase-submit")),
				waitJS(`document.getElementById("privacy-ok").textContent !== "" && document.getElementById("erase-box").hidden`))
			got, _ := a.db.Card(bg, "koper", cd.ID)
			if got.ErasedAt == nil || got.Holder != "" {
				t.Fatalf("card after the erasure: %+v", got)
			}
			if strings.Contains(jsText(t, ctx, "#card-panel"), holder) {
				t.Error("the desk still shows the erased name")
			}
			ct.check(t, "console-privacy-erased-"+run.lang)
		})
	}
}
