"""Move an existing blog in: a WordPress export, or a Jekyll, Hugo or Zola site.

    settings = read_settings(source)             # the source's title, address, zone
    site     = new site in a staging folder, or the existing one (--into)
    import   = every post, page and file staged  # nothing in the site changes yet
    commit   = staged files moved into the site, sections added to site.toml,
               import-report.json written

Bad input stops the import before the commit, so it writes nothing.
"""
