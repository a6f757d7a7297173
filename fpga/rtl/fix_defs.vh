// Bit layout of the per-session framer state and of a framed-message record.
// Shared by fix_byte_step, fix_framer and fix_sequencer.
`ifndef FIX_DEFS_VH
`define FIX_DEFS_VH
`define FS_PH 2:0   // phase (HUNT/BEGIN/NINE/NINE_EQ/BODY_LEN/BODY/TRAILER)
`define FS_SUB 6:3   // BEGIN trie node, BodyLength digit count or trailer index
`define FS_K 9:7   // SOH 8=FIX matcher
`define FS_K2 12:10   // 8=FIX matcher
`define FS_LSOH 13:13   // previous body byte was SOH
`define FS_START 53:14   // offset of the message's first byte
`define FS_SUM 61:54   // checksum base: the sum so far minus the beat's byte prefix sum (the sum at a beat edge)
`define FS_WIN 97:62   // low nibbles of the session's last nine kept bytes, the latest in 3:0 (set by fix_framer)
`define FS_BEND 121:98   // offset of the trailer's first byte, mod 2^24 (in the body)
`define FS_CKX 133:122   // the message's checksum as 3 BCD digits (in the trailer)
`define FS_CKOK 134:134   // the CheckSum digits so far match CKX
`define FS_FIXT 135:135   // BeginString is FIXT.1.1
`define FS_MTP 138:136   // MsgType phase 0..5
`define FS_MTL 141:139   // MsgType length, saturating at 5
`define FS_MT 173:142   // MsgType bytes
`define FS_FS 175:174   // field sub-state: 0 tag, 1 value, 2 skip
`define FS_TAG 179:176   // tag value as a trie node over the tags of interest (T_* in fix_byte_step)
`define FS_TAGD 182:180   // tag digits
`define FS_TAGB 183:183   // tag has a non-digit or a sixth digit
`define FS_WHICH 186:184   // tag of interest being read (0..5), 7 none
`define FS_VAL 226:187   // numeric value (BCD, 10 digits at most)
`define FS_VLEN 230:227   // value length, saturating at 11
`define FS_VBAD 231:231   // value has a non-digit
`define FS_VY 232:232   // first value byte is Y
`define FS_SEEN 238:233   // tags of interest already seen
`define FS_FLG 246:239   // extracted flag bits
`define FS_SEQ 278:247   // MsgSeqNum
`define FS_SST 280:279   // seq status: 0 valid, 1 missing, 2 invalid
`define FS_NSN 312:281   // NewSeqNo
`define FS_RL 320:313   // in the body, bit k: the body ends at the k-th kept byte from here (lane chain only: fix_framer derives it from BEND at a beat start)
`define FS_W 321
`define EV_RSN 3:0   // GARBLED reason, 0 = framed
`define EV_OFF 43:4   // offset of the first byte
`define EV_LEN 67:44   // length
`define EV_MT 99:68   // MsgType
`define EV_FLG 107:100   // flags
`define EV_SEQ 139:108   // MsgSeqNum
`define EV_SST 141:140   // seq status
`define EV_NSN 173:142   // NewSeqNo
`define EV_W 174
`endif
