package notify

import (
	"bytes"
	_ "embed"
	"html/template"
	"strings"
	"unicode/utf8"
)

// view is a notice laid out, before it is rendered as text or HTML.
type view struct {
	Subject  string
	Heading  string
	Lead     []string // paragraphs
	Rows     []row    // the facts, a label and a value each
	Sections []section
	Table    *table // a run summary's decisions
	Footer   string
}

type row struct{ Label, Value string }

// section is a heading with steps: a paragraph, a command, or both.
type section struct {
	Title string
	Steps []step
}

type step struct{ Text, Command string }

type table struct {
	Head []string
	Rows [][]string
	More string // what was left out
}

//go:embed templates/message.html
var htmlSource string

var htmlTemplate = template.Must(template.New("message").Parse(htmlSource))

// textWidth is where plain-text paragraphs wrap.
const textWidth = 72

// render gives v as plain text and as HTML.
func render(v view) (text, html string) {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		// The template is ours and the view plain strings: this cannot
		// happen; if it does, the text body still goes out.
		buf.Reset()
		buf.WriteString("<pre>" + template.HTMLEscapeString(renderText(v)) + "</pre>")
	}
	return renderText(v), buf.String()
}

func renderText(v view) string {
	var b strings.Builder
	b.WriteString(v.Heading + "\n\n")
	for _, p := range v.Lead {
		b.WriteString(wrap(p, textWidth, "", "") + "\n\n")
	}
	if len(v.Rows) > 0 {
		width := 0
		for _, r := range v.Rows {
			width = max(width, utf8.RuneCountInString(r.Label))
		}
		for _, r := range v.Rows {
			label := "  " + r.Label + strings.Repeat(" ", width-utf8.RuneCountInString(r.Label)) + "  "
			b.WriteString(wrap(r.Value, textWidth, label, strings.Repeat(" ", utf8.RuneCountInString(label))) + "\n")
		}
		b.WriteString("\n")
	}
	for _, s := range v.Sections {
		b.WriteString(s.Title + "\n\n")
		for _, st := range s.Steps {
			if st.Text != "" {
				b.WriteString(wrap(st.Text, textWidth, "  ", "  ") + "\n\n")
			}
			if st.Command != "" {
				b.WriteString("      " + st.Command + "\n\n")
			}
		}
	}
	if t := v.Table; t != nil {
		writeTable(&b, t)
	}
	b.WriteString("-- \n" + wrap(v.Footer, textWidth, "", "") + "\n")
	return b.String()
}

// writeTable lays a table out in columns; the last column is not padded.
func writeTable(b *strings.Builder, t *table) {
	widths := make([]int, len(t.Head))
	for _, r := range append([][]string{t.Head}, t.Rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) {
		var l strings.Builder
		l.WriteString(" ")
		for i, c := range cells {
			l.WriteString(" " + c)
			if i < len(cells)-1 {
				l.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+1))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(t.Head)
	for _, r := range t.Rows {
		line(r)
	}
	b.WriteString("\n")
	if t.More != "" {
		b.WriteString(wrap(t.More, textWidth, "", "") + "\n\n")
	}
}

// wrap breaks s into lines of at most width runes at spaces (a longer word
// keeps its own line), the first line starting with first, the others
// with rest.
func wrap(s string, width int, first, rest string) string {
	var b strings.Builder
	line, n := first, utf8.RuneCountInString(first)
	empty := true
	for _, w := range strings.Fields(s) {
		wl := utf8.RuneCountInString(w)
		if !empty && n+1+wl > width {
			b.WriteString(line + "\n")
			line, n, empty = rest, utf8.RuneCountInString(rest), true
		}
		if !empty {
			line += " "
			n++
		}
		line += w
		n += wl
		empty = false
	}
	b.WriteString(strings.TrimRight(line, " "))
	return b.String()
}
