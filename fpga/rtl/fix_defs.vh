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
`define FS_CNT 77:54   // bytes of the message before this byte
`define FS_SUM 85:78   // checksum accumulator
`define FS_BLEN 115:86   // BodyLength value, then body bytes remaining
`define FS_CKS 125:116   // CheckSum digits value
`define FS_MTP 128:126   // MsgType phase 0..5
`define FS_MTL 131:129   // MsgType length, saturating at 5
`define FS_MT 163:132   // MsgType bytes
`define FS_FS 165:164   // field sub-state: 0 tag, 1 value, 2 skip
`define FS_TAG 182:166   // tag value
`define FS_TAGD 185:183   // tag digits
`define FS_TAGB 186:186   // tag has a non-digit or a sixth digit
`define FS_WHICH 189:187   // tag of interest being read (0..5), 7 none
`define FS_VAL 223:190   // numeric value (10 digits at most)
`define FS_VLEN 227:224   // value length, saturating at 11
`define FS_VBAD 228:228   // value has a non-digit
`define FS_VY 229:229   // first value byte is Y
`define FS_SEEN 235:230   // tags of interest already seen
`define FS_FLG 243:236   // extracted flag bits
`define FS_SEQ 275:244   // MsgSeqNum
`define FS_SST 277:276   // seq status: 0 valid, 1 missing, 2 invalid
`define FS_NSN 309:278   // NewSeqNo
`define FS_W 310
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
