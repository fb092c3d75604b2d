# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 8, security: a read-only root, a process that is not root.
exercise 8.1 'ex8-ro runs on a read-only root filesystem'
exercise 8.2 'ex8-user runs as uid 1000 with no capabilities'

ex_8_1() {
	container ex8-ro || { hint=${hint:-"ctr-run -d --name ex8-ro ... busybox sleep 1000"}; return 1; }
	local opts
	# Field 5 of mountinfo is the mount point as the process sees it, 6 its options.
	opts=$(awk '$5 == "/" {o = $6} END {print o}' "/proc/$cpid/mountinfo")
	case ,$opts, in
	*,ro,*) ;;
	*)
		why="ex8-ro's / is mounted $opts"
		hint="ctr-run --read-only"
		return 1
		;;
	esac
}

ex_8_2() {
	container ex8-user || { hint=${hint:-"ctr-run -d --name ex8-user ... busybox sleep 1000"}; return 1; }
	local uid caps
	uid=$(awk '$1 == "Uid:" {print $2 $3 $4 $5}' "/proc/$cpid/status")
	caps=$(awk '$1 == "CapEff:" {print $2}' "/proc/$cpid/status")
	if [ "$uid" != 1000100010001000 ]; then
		why="ex8-user's uids are $(awk '$1 == "Uid:"' "/proc/$cpid/status")"
		hint="ctr-run -u 1000:1000"
		return 1
	fi
	if [ "$caps" != 0000000000000000 ]; then
		why="ex8-user has effective capabilities $caps"
		return 1
	fi
}
