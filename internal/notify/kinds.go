package notify

import (
	"fmt"

	"github.com/keysweep/keysweep/internal/domain"
)

// keyIn names a key in its owner's terms: "the AWS IAM access key K of
// user U in account A".
func keyIn(f Facts, g guide) string {
	owner := "user " + f.User
	if f.Provider == domain.ProviderGMI {
		owner = f.User
	}
	return fmt.Sprintf("the %s %s %s of %s in %s %s", f.Provider.Title(), g.keyWord, keyLabel(f), owner, g.accountWord, f.Account)
}

// then says what happens to a key once it is stale.
func then(f Facts, g guide) string {
	switch {
	case !g.canDeactivate:
		return fmt.Sprintf("From that day, keysweep's next run gives notice that it will delete the key, and deletes it %s later. A deleted key cannot be restored.", plural(f.DeleteAfterDays, "day"))
	case f.DeleteAfterDays == 0:
		return "From that day, keysweep's next run deletes it. A deleted key cannot be restored."
	}
	return fmt.Sprintf("From that day, keysweep's next run deactivates it: requests signed with it fail. It is deleted %s later.", plural(f.DeleteAfterDays, "day"))
}

func rotate(g guide) []step { return append(append([]step(nil), g.create...), g.remove...) }

func warningView(f Facts) view {
	g := guideFor(f)
	n := daysUntil(f.At, f.StaleAt)
	in := "in " + plural(n, "day")
	if n == 0 {
		in = "today"
	}
	lead := []string{
		fmt.Sprintf("%s becomes stale on %s, %s.", capitalize(keyIn(f, g)), day(f.StaleAt), in),
	}
	if f.StaleWhy != "" {
		lead = append(lead, "Why: "+f.StaleWhy+".")
	}
	lead = append(lead, then(f, g))
	return view{
		Subject:  fmt.Sprintf("keysweep: %s %s of %s becomes stale on %s (%s)", g.keyWord, keyLabel(f), f.User, day(f.StaleAt), in),
		Heading:  fmt.Sprintf("Your %s becomes stale %s", g.keyWord, in),
		Lead:     lead,
		Rows:     keyRows(f),
		Sections: []section{{Title: "What you can do before " + day(f.StaleAt), Steps: append(rotate(g), g.keep...)}},
	}
}

func deactivatedView(f Facts) view {
	g := guideFor(f)
	lead := []string{fmt.Sprintf("keysweep deactivated %s on %s. Requests signed with it now fail.", keyIn(f, g), stamp(f.At))}
	subject := fmt.Sprintf("keysweep: %s %s of %s was deactivated", g.keyWord, keyLabel(f), f.User)
	until := "it is deleted"
	if f.DeleteOn != nil {
		lead = append(lead, fmt.Sprintf("It will be deleted on %s. A deleted key cannot be restored.", day(*f.DeleteOn)))
		subject += "; it will be deleted on " + day(*f.DeleteOn)
		until = day(*f.DeleteOn)
	}
	restore := append([]step(nil), g.restore...)
	restore = append(restore, step{Text: "A restored key that is still stale is deactivated again by keysweep's next run: restore it only to gain time for a rotation, or have it exempted."})
	restore = append(restore, g.keep...)
	return view{
		Subject: subject,
		Heading: "Your " + g.keyWord + " was deactivated",
		Lead:    lead,
		Rows:    keyRows(f),
		Sections: []section{
			{Title: "To restore it until " + until, Steps: restore},
			{Title: "To replace it", Steps: rotate(g)},
		},
	}
}

func deletedView(f Facts) view {
	g := guideFor(f)
	return view{
		Subject: fmt.Sprintf("keysweep: %s %s of %s was deleted", g.keyWord, keyLabel(f), f.User),
		Heading: "Your " + g.keyWord + " was deleted",
		Lead: []string{
			fmt.Sprintf("keysweep deleted %s on %s.", keyIn(f, g), stamp(f.At)),
			"A deleted key cannot be restored: applications still using it fail until they get a new one.",
		},
		Rows:     keyRows(f),
		Sections: []section{{Title: "To get a new key", Steps: g.create}},
	}
}

func revokedView(f Facts) view {
	g := guideFor(f)
	did := "deleted"
	if f.Action == domain.ActionDeactivate {
		did = "deactivated"
	}
	who := f.RequestedBy
	if who == "" {
		who = "an administrator"
	}
	lead := []string{fmt.Sprintf("%s was revoked on %s: keysweep %s it at the request of %s.", capitalize(keyIn(f, g)), stamp(f.At), did, who)}
	if f.RequestReason != "" {
		lead = append(lead, "Reason given: "+f.RequestReason)
	}
	lead = append(lead, "A revoked key may have been exposed. Do not restore it: create a new key, and check what the old one was used for.")
	sections := []section{{Title: "To get a new key", Steps: g.create}}
	if len(g.activity) > 0 {
		sections = append(sections, section{Title: "To review its use", Steps: g.activity})
	}
	rows := keyRows(f)
	rows = append(rows, row{"Revoked by", who})
	return view{
		Subject:  fmt.Sprintf("keysweep: %s %s of %s was revoked (%s)", g.keyWord, keyLabel(f), f.User, did),
		Heading:  "Your " + g.keyWord + " was revoked",
		Lead:     lead,
		Rows:     rows,
		Sections: sections,
	}
}

func dueView(f Facts) view {
	g := guideFor(f)
	on := "at the end of its notice period"
	subject := fmt.Sprintf("keysweep: %s %s of %s is due for deletion", g.keyWord, keyLabel(f), f.User)
	heading := "Your " + g.keyWord + " is due for deletion"
	if f.DeleteOn != nil {
		on = "on " + day(*f.DeleteOn)
		subject = fmt.Sprintf("keysweep: %s %s of %s will be deleted on %s", g.keyWord, keyLabel(f), f.User, day(*f.DeleteOn))
		heading = fmt.Sprintf("Your %s will be deleted on %s", g.keyWord, day(*f.DeleteOn))
	}
	lead := []string{fmt.Sprintf("%s is stale.", capitalize(keyIn(f, g)))}
	if f.StaleWhy != "" {
		lead = append(lead, "Why: "+f.StaleWhy+".")
	}
	lead = append(lead, fmt.Sprintf("%s keys cannot be deactivated, so keysweep gives notice instead: the key keeps working until keysweep deletes it %s. A deleted key cannot be restored.", f.Provider.Title(), on))
	return view{
		Subject:  subject,
		Heading:  heading,
		Lead:     lead,
		Rows:     keyRows(f),
		Sections: []section{{Title: "What you can do", Steps: append(rotate(g), g.keep...)}},
	}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
