local t = io.open("/etc/passwd")
return t
