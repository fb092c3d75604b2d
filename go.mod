module ctrkit

go 1.26
