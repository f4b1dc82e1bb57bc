# Turns mirrorctl's man-page style help text into roff (man(7)).
#   awk -v level=top -f help2roff.awk   `mirrorctl --help`: sections
#                                       become .SH
#   awk -v level=cmd -f help2roff.awk   `mirrorctl CMD --help`: one .SS
#                                       with its sections as paragraphs
# With -v insert=FILE (level top), FILE is copied in at the end of the
# COMMANDS section: the per-command sections go there.
# Section bodies are indented 4 spaces.  SYNOPSIS and EXAMPLES are kept
# line for line; "    -x, --long ARG" lines followed by 8-space lines are
# option lists; in COMMANDS and FILES "    NAME<2+ spaces>TEXT" is a list
# entry; everything else is filled text, blank lines between paragraphs.

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

function section(name) {
	verbatim = (name == "SYNOPSIS" || name == "EXAMPLES")
	tabular = (name == "COMMANDS" || name == "FILES")
	if (level == "top") {
		print ".SH " name
	} else if (name != "NAME") {
		print ".PP"
		# "EXIT STATUS" -> "Exit status:"
		print "\\fI" substr(name, 1, 1) tolower(substr(name, 2)) ":\\fR"
		if (!verbatim)
			print ".br"
	}
	if (verbatim) {
		print (level == "top" ? ".nf" : ".RS\n.nf")
	}
}

function end_section() {
	blanks = 0
	if (level == "top" && sec == "COMMANDS" && insert != "") {
		while ((getline l < insert) > 0)
			print l
		close(insert)
	}
	if (verbatim)
		print (level == "top" ? ".fi" : ".fi\n.RE")
	if (level == "cmd" && sec == "NAME" && name_text != "") {
		split(name_text, parts, / - /)
		print ".SS \"" esc(parts[1]) "\""
		print esc(substr(name_text, length(parts[1]) + 4)) "."
	} else if (level == "top" && sec == "NAME") {
		print esc(name_text)
	}
	verbatim = 0
	pending_para = 0
}

BEGIN { sec = ""; name_text = "" }

/^[A-Z][A-Z ]*$/ {
	if (sec != "")
		end_section()
	sec = $0
	if (sec != "NAME" || level == "top")
		section(sec)
	if (sec == "NAME")
		verbatim = 0
	next
}

/^$/ {
	# Blank lines inside verbatim text only between lines, never last.
	if (verbatim)
		blanks++
	else
		pending_para = 1
	next
}

{
	line = $0
	if (sec == "NAME") {
		sub(/^ +/, "", line)
		name_text = name_text (name_text == "" ? "" : " ") line
		next
	}
	if (verbatim) {
		sub(/^    /, "", line)
		for (; blanks > 0; blanks--)
			print ""
		print esc(line)
		next
	}
	if (line ~ /^    -/) {
		sub(/^ +/, "", line)
		print ".TP"
		print "\\fB" esc(line) "\\fR"
		pending_para = 0
		next
	}
	if (line ~ /^        /) {
		sub(/^ +/, "", line)
		print esc(line)
		next
	}
	if (tabular && match(line, /^    [^ ]+  +/)) {
		item = substr(line, 5, RLENGTH - 4)
		sub(/ +$/, "", item)
		print ".TP"
		print "\\fB" esc(item) "\\fR"
		print esc(substr(line, RLENGTH + 1))
		pending_para = 0
		next
	}
	sub(/^ +/, "", line)
	if (pending_para)
		print ".PP"
	pending_para = 0
	print esc(line)
}

END {
	if (sec != "")
		end_section()
}
