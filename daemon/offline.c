/* placeholder: being written */
typedef int mt_offline_placeholder;
