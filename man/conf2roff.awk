# Turns `mirror-targetd --dump-config` into the settings part of
# mirror-target.conf(5), so the page lists exactly the settings the daemon
# knows, with the same help text.  Input shape:
#   preamble comments, then per [section]: blank-separated settings, each
#   "# help..." lines, "# TYPE; default: X; APPLIES." and "key = value";
#   commented-out sections ("# [session NAME]" with "# # help" and
#   "# key = example") document the repeatable ones.

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

function flush_text(    i) {
	while (n > 0 && buf[n] == "")
		n--
	if (n == 0)
		return
	print ".PP"
	for (i = 1; i <= n; i++)
		print (buf[i] == "" ? ".PP" : esc(buf[i]))
	n = 0
}

BEGIN { n = 0; sections = 0; commented = 0 }

{
	line = $0
	if (line ~ /^# \[[^]]+\]$/)
		commented = 1
	if (commented && line ~ /^#( |$)/)
		line = substr(line, 3)
}

line ~ /^\[[^]]+\]$/ {
	if (sections++ == 0)
		n = 0 # the preamble: the page says it in its own words
	example = ""
	if (commented && line ~ / /) {
		# "[session web-1]": the section repeats, NAME is the user's.
		example = line
		sub(/ .*/, " NAME]", line)
	}
	print ".SS \"" esc(line) "\""
	flush_text()
	if (example != "")
		print ".PP\nFor example: \\fB" esc(example) "\\fR."
	next
}

line ~ /^#( |$)/ {
	buf[++n] = substr(line, 3)
	next
}

line ~ /^#$/ {
	buf[++n] = ""
	next
}

line ~ /^[a-z_]+ *=/ {
	key = line
	sub(/ *=.*/, "", key)
	value = line
	sub(/^[^=]*= ?/, "", value)
	print ".TP"
	print "\\fB" esc(key) "\\fR"
	# The last comment line is "TYPE; default: X; APPLIES.".
	for (i = 1; i < n; i++)
		print esc(buf[i])
	if (n > 0) {
		print ".br"
		if (commented && value != "")
			print "Example: \\fB" esc(key " = " value) "\\fR."
		if (commented && value != "")
			print ".br"
		print "\\fI" esc(buf[n]) "\\fR"
	}
	n = 0
	next
}

# A blank line ends a block; free text stays pending until the next
# section header or the end.
{ next }

END { flush_text() }
