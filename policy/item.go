package policy

// Item gives p as plain Go values for attributevalue.MarshalMap: strings,
// ints, float64, []any and map[string]any, with empty optional parts left
// out. It carries no "id": the caller adds the table key. FromItem(p.Item())
// gives p back.
func (p *Policy) Item() map[string]any {
	m := map[string]any{
		"version":         p.Version,
		"mode":            string(p.Mode),
		"maxKeyAgeDays":   p.MaxKeyAgeDays,
		"maxInactiveDays": p.MaxInactiveDays,
		"deleteAfterDays": p.DeleteAfterDays,
	}
	if p.MaxKeyLifetimeDays != 0 {
		m["maxKeyLifetimeDays"] = p.MaxKeyLifetimeDays
	}
	br := map[string]any{}
	if p.BlastRadius.MaxActions != 0 {
		br["maxActions"] = p.BlastRadius.MaxActions
	}
	if p.BlastRadius.MaxPercent != 0 {
		br["maxPercent"] = p.BlastRadius.MaxPercent
	}
	if len(br) > 0 {
		m["blastRadius"] = br
	}
	ex := map[string]any{}
	putList(ex, "users", p.Exemptions.Users)
	putList(ex, "accessKeyIds", p.Exemptions.AccessKeyIDs)
	putList(ex, "pathPrefixes", p.Exemptions.PathPrefixes)
	putList(ex, "keyNamePrefixes", p.Exemptions.KeyNamePrefixes)
	putList(ex, "ownerIds", p.Exemptions.OwnerIDs)
	putList(ex, "scopes", p.Exemptions.Scopes)
	if p.Exemptions.Tag != "" {
		ex["tag"] = p.Exemptions.Tag
	}
	if len(ex) > 0 {
		m["exemptions"] = ex
	}
	if len(p.Overrides) > 0 {
		ovs := make([]any, len(p.Overrides))
		for i, o := range p.Overrides {
			om := map[string]any{}
			if o.Name != "" {
				om["name"] = o.Name
			}
			if o.PathPrefix != "" {
				om["pathPrefix"] = o.PathPrefix
			}
			if o.Tag != nil {
				tm := map[string]any{"key": o.Tag.Key}
				if o.Tag.Value != "" {
					tm["value"] = o.Tag.Value
				}
				om["tag"] = tm
			}
			putInt(om, "maxKeyAgeDays", o.MaxKeyAgeDays)
			putInt(om, "maxInactiveDays", o.MaxInactiveDays)
			putInt(om, "deleteAfterDays", o.DeleteAfterDays)
			ovs[i] = om
		}
		m["overrides"] = ovs
	}
	if p.Organization != nil {
		m["organization"] = p.Organization.item()
	}
	if p.Notify != nil {
		m["notify"] = p.Notify.item()
	}
	return m
}

func putList(m map[string]any, key string, list []string) {
	if len(list) == 0 {
		return
	}
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	m[key] = out
}

func putInt(m map[string]any, key string, v *int) {
	if v != nil {
		m[key] = *v
	}
}
