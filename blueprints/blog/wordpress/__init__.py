"""Moving in from WordPress: the export file read safely, its content converted, the old links kept.

wxr.py        the export file (WordPress eXtended RSS) -> plain Python records; nothing else parses XML
convert.py    WordPress HTML -> a post body the editor edits and the renderer accepts (wpautop, shortcodes)
importer.py   the records -> posts, comments, media, redirects, in one transaction, with a report
redirects.py  the old permalinks answering 301 (a fallback of the 404 page: no route of the blog changes)
admin.py      the redirect table in the admin

It lives in the blog because everything it writes is the blog's (posts, tags, comments) and goes
through the blog's own rules (slugs, tags, Markdown rendering); `flask import wordpress` in cli/ only
reads its arguments and prints the report.
"""
